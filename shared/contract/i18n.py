"""The texts both sides of the service say, in Spanish (the course's language) and English: the problems a
request can have (the dashboard shows them, the worker stores them with a failed submission), an effective
configuration as the class reads it, why a check passed or failed, and what is wrong in a lesson file.

The pages' own copy lives with the dashboard (`dashboard/texts.py`). `t(key, lang, **params)` formats an
entry; an unknown key shows the key itself so that a missing translation is visible in the page rather than
crashing it. Tests check both languages are complete.
"""

from __future__ import annotations

from typing import Any

LANGUAGES = ("es", "en")

TEXT: dict[str, dict[str, str]] = {
    # --- problems a user can cause (shared/contract/problems.py) ---
    "problem.empty_prompt": {"es": "El prompt está vacío: escribe algo para que el modelo continúe.",
                             "en": "The prompt is empty: write something for the model to continue."},
    "problem.prompt_too_long_chars": {
        "es": "El prompt tiene {chars} caracteres; el máximo es {limit}.",
        "en": "The prompt has {chars} characters; the limit is {limit}."},
    "problem.prompt_too_long_tokens": {
        "es": "El prompt ({prompt_tokens} tokens) más max_new_tokens ({max_new_tokens}) no cabe en la "
              "ventana de contexto de {context} tokens. Acorta el prompt o reduce max_new_tokens.",
        "en": "The prompt ({prompt_tokens} tokens) plus max_new_tokens ({max_new_tokens}) does not fit the "
              "model's {context}-token context window. Shorten the prompt or lower max_new_tokens."},
    "problem.control_characters": {
        "es": "El prompt contiene caracteres de control no permitidos.",
        "en": "The prompt contains control characters that are not allowed."},
    "problem.bad_strategy": {"es": "Estrategia desconocida: «{value}». Usa greedy o sampling.",
                             "en": "Unknown strategy '{value}'. Use greedy or sampling."},
    "problem.not_a_number": {"es": "{field} debe ser un número.", "en": "{field} must be a number."},
    "problem.not_an_integer": {"es": "{field} debe ser un número entero.", "en": "{field} must be a whole number."},
    "problem.out_of_range": {"es": "{field} debe estar entre {low} y {high}.",
                             "en": "{field} must be between {low} and {high}."},
    "problem.no_configs": {"es": "Elige al menos una configuración.", "en": "Choose at least one configuration."},
    "problem.too_many_configs": {"es": "Demasiadas configuraciones: máximo {limit} por envío.",
                                 "en": "Too many configurations: at most {limit} per submission."},
    "problem.too_many_generations": {"es": "Demasiadas generaciones en un envío: máximo {limit} "
                                           "(variantes × muestras).",
                                     "en": "Too many generations in one submission: at most {limit} "
                                           "(variants × samples)."},
    "problem.bad_custom_check": {"es": "La comprobación personalizada no es válida (texto vacío, de más de 200 "
                                       "caracteres o expresión regular incorrecta).",
                                 "en": "The custom check is not valid (empty, over 200 characters, or a broken "
                                       "regular expression)."},
    "problem.not_text": {"es": "El prompt no es texto válido (UTF-8).", "en": "The prompt is not valid text (UTF-8)."},
    "problem.too_many_active": {"es": "Ya tienes {limit} envíos en cola o en marcha: espera a que termine alguno.",
                                "en": "You already have {limit} submissions queued or running: wait for one to "
                                      "finish."},
    "problem.too_many_per_minute": {"es": "Máximo {limit} envíos por minuto: espera un momento y vuelve a probar.",
                                    "en": "At most {limit} submissions a minute: wait a moment and try again."},
    "problem.timed_out": {"es": "El envío superó el tiempo máximo ({seconds} s) y se canceló.",
                          "en": "The submission took longer than the limit ({seconds} s) and was cancelled."},
    "problem.bad_name": {"es": "El nombre debe tener entre 1 y {limit} caracteres visibles.",
                         "en": "The name must have between 1 and {limit} visible characters."},
    "problem.bad_class_code": {"es": "El código de clase no existe o está cerrado. Pídeselo a tu profesor/a.",
                               "en": "That class code does not exist or is closed. Ask your instructor."},
    "problem.bad_lab": {"es": "Laboratorio desconocido.", "en": "Unknown lab."},
    "problem.model_unavailable": {"es": "El modelo «{model}» no está disponible en este servidor.",
                                  "en": "Model '{model}' is not available on this server."},
    "problem.worker_error": {"es": "El worker no pudo generar el texto: {detail}",
                             "en": "The worker could not generate the text: {detail}"},
    "problem.bidi_characters": {
        "es": "El prompt contiene caracteres de control de dirección (bidi) que pueden disfrazar el texto ante "
              "los demás. Quítalos y vuelve a probar.",
        "en": "The prompt contains bidirectional control characters that can disguise text shown to others. "
              "Remove them and try again."},
    "problem.custom_check_too_costly": {
        "es": "La expresión regular de tu comprobación es demasiado costosa (memoria o tiempo). Simplifícala: "
              "menos repeticiones anidadas.",
        "en": "Your check's regular expression is too costly (memory or time). Simplify it: fewer nested "
              "repetitions."},
    "problem.malformed_request": {"es": "El envío está dañado y no se puede ejecutar. Vuelve a enviarlo.",
                                  "en": "The submission is damaged and cannot be run. Submit it again."},
    "problem.worker_lost": {
        "es": "El worker que ejecutaba tu envío se detuvo varias veces y se agotaron los reintentos. Vuelve a "
              "enviarlo; si se repite, avisa a tu profesor/a.",
        "en": "The worker running your submission stopped several times and no retries are left. Submit it "
              "again; if it happens again, tell your instructor."},
    "problem.engine_crash": {
        "es": "Este envío hizo fallar el motor de generación incluso ejecutado solo, así que se canceló sin "
              "afectar a los demás ({detail}).",
        "en": "This submission made the generation engine fail even when run alone, so it was cancelled "
              "without affecting anyone else ({detail})."},
    "problem.too_many_joins": {
        "es": "Demasiadas entradas nuevas desde este navegador o en esta clase. Si ya entraste, usa tu código de "
              "reingreso; si no, espera unos minutos.",
        "en": "Too many new joins from this browser or in this class. If you joined before, use your rejoin "
              "code; otherwise wait a few minutes."},
    "problem.bad_rejoin_code": {"es": "Ese código de reingreso no es válido para esta clase.",
                                "en": "That rejoin code is not valid for this class."},
    "problem.busy": {"es": "El servidor está ocupado con otro envío tuyo: vuelve a pulsar en un momento.",
                     "en": "The server is busy with another submission of yours: press again in a moment."},
    "problem.sandbox_busy": {
        "es": "El servidor está comprobando muchas expresiones regulares a la vez. No se ha enviado nada: "
              "vuelve a pulsar Ejecutar en unos segundos.",
        "en": "The server is checking many regular expressions at once. Nothing was sent: press Run again "
              "in a few seconds."},
    "problem.too_many_pattern_checks": {
        "es": "Máximo {limit} comprobaciones de expresiones regulares por minuto. No se ha enviado nada: "
              "espera un momento y vuelve a probar.",
        "en": "At most {limit} regular-expression checks a minute. Nothing was sent: wait a moment and "
              "try again."},
    "problem.cancelled": {"es": "Cancelaste este envío.", "en": "You cancelled this submission."},
    "problem.in_row": {"es": "Fila {row}: {message}", "en": "Row {row}: {message}"},
    "problem.class_closed": {"es": "La clase existe, pero tu profesor/a la ha cerrado: ya no admite entradas ni "
                                   "envíos. Pídele que la reabra.",
                             "en": "The class exists, but your instructor has closed it: it no longer takes new "
                                   "students or submissions. Ask them to reopen it."},
    "problem.invisible_name_characters": {
        "es": "El nombre contiene un carácter invisible o de control ({codepoint}). Escríbelo solo con letras "
              "visibles.",
        "en": "The name contains an invisible or control character ({codepoint}). Write it with visible "
              "letters only."},
    "problem.no_browser_cookie": {
        "es": "Tu navegador no ha enviado la cookie de esta página, y sin ella no se puede entrar. Activa las "
              "cookies para este sitio (o sal del modo que las bloquea) y recarga la página.",
        "en": "Your browser did not send this page's cookie, and joining needs it. Allow cookies for this site "
              "(or leave the mode that blocks them) and reload the page."},
    "problem.class_locked": {
        "es": "La clase está cerrada a nuevas incorporaciones: tu profesor/a ha bloqueado las entradas. Si ya "
              "habías entrado, usa tu código de reingreso; si no, pídele que las desbloquee.",
        "en": "The class is closed to new students: your instructor has locked joining. If you joined before, "
              "use your rejoin code; otherwise ask them to unlock it."},
    "problem.class_full": {
        "es": "La clase ya tiene los {limit} estudiantes que espera tu profesor/a. Si ya habías entrado, usa tu "
              "código de reingreso; si no, pídele que amplíe la clase.",
        "en": "The class already has the {limit} students your instructor expects. If you joined before, use "
              "your rejoin code; otherwise ask them to make room."},
    "problem.too_many_joins_here": {
        "es": "Demasiadas entradas nuevas desde esta red en la última hora. Si ya entraste, usa tu código de "
              "reingreso; si no, avisa a tu profesor/a.",
        "en": "Too many new joins from this network in the last hour. If you joined before, use your rejoin "
              "code; otherwise tell your instructor."},
    "problem.too_many_attempts": {
        "es": "Demasiados intentos fallidos desde aquí: espera {minutes} minutos y comprueba el código con tu "
              "profesor/a.",
        "en": "Too many failed attempts from here: wait {minutes} minutes and check the code with your "
              "instructor."},
    "problem.bad_rejoin_format": {
        "es": "Un código de reingreso tiene la forma 17-K3QZ7M2A: tu número, un guion y 8 letras o cifras.",
        "en": "A rejoin code looks like 17-K3QZ7M2A: your number, a dash and 8 letters or digits."},
    "problem.answer_too_long": {"es": "La respuesta pasa de {limit} caracteres: acórtala.",
                                "en": "The answer is over {limit} characters: shorten it."},
    "problem.bad_answer": {"es": "Esa respuesta no es válida para esta pregunta.",
                           "en": "That answer is not valid for this question."},
    "problem.question_closed": {"es": "La pregunta ya está cerrada: tu respuesta no se ha guardado.",
                                "en": "The question is closed: your answer was not saved."},
    "problem.not_current_question": {
        "es": "Esa pregunta no es la pregunta actual de tu clase: tu respuesta no se ha guardado.",
        "en": "That question is not your class's current question: your answer was not saved."},
    "problem.no_lesson": {"es": "Tu clase no tiene ninguna lección en marcha.", "en": "Your class has no lesson running."},
    "problem.blind_no_outputs": {
        "es": "Aún no hay salidas de la clase con al menos dos de las configuraciones del paso: pide que ejecuten "
              "la tarea y vuelve a abrir la pregunta.",
        "en": "The class has no outputs yet for at least two of the step's configurations: ask them to run the "
              "task, then open the question again."},
    "problem.token_budget": {
        "es": "Este envío usaría {tokens} tokens; te quedan {left} este minuto (límite: {limit} por minuto). "
              "Espera un momento o pide menos tokens o generaciones.",
        "en": "This would use {tokens} tokens; you have {left} left this minute (limit: {limit} per minute). "
              "Wait a moment, or ask for fewer tokens or generations."},
    "problem.storage_full": {
        "es": "El almacenamiento del servidor (Redis) está lleno: no se aceptan envíos nuevos. "
              "Avisa al profesor/a; lo ya generado sigue disponible.",
        "en": "The server's storage (Redis) is full: no new submissions are accepted. "
              "Tell the instructor; everything already generated is still there."},
    # --- a field and an effective config, as the class reads them (problems.py, decoding.config_summary) ---
    "field.temperature": {"es": "«temperatura»", "en": "temperature"},
    "field.top_k": {"es": "top_k", "en": "top_k"},
    "field.top_p": {"es": "top_p", "en": "top_p"},
    "field.repetition_penalty": {"es": "repetition_penalty", "en": "repetition_penalty"},
    "field.max_new_tokens": {"es": "max_new_tokens", "en": "max_new_tokens"},
    "field.seed": {"es": "«semilla»", "en": "seed"},
    "config.greedy": {"es": "greedy", "en": "greedy"},
    "config.sampling": {"es": "sampling", "en": "sampling"},
    "config.no_top_k": {"es": "sin top-k", "en": "no top-k"},
    "config.tokens": {"es": "{count} tok", "en": "{count} tok"},
    # --- why a check passed or failed (shared/teaching/checks.py CheckResult keys; JSON parser reasons) ---
    "checkdetail.bullets": {"es": "{count} línea(s) de viñeta al final", "en": "{count} bullet line(s) at the end"},
    "checkdetail.json_ok": {"es": "JSON válido", "en": "valid JSON"},
    "checkdetail.json_error": {"es": "JSON no válido en la línea {line}, columna {column} ({msg}): «{around}»",
                               "en": "{msg} at line {line} column {column}: «{around}»"},
    "checkdetail.json_deep": {"es": "JSON no válido: demasiado anidado", "en": "not valid JSON: nested too deeply"},
    "checkdetail.jargon": {"es": "{terms}", "en": "{terms}"},
    "checkdetail.no_jargon": {"es": "sin jerga", "en": "no jargon"},
    "checkdetail.example_marker": {"es": "marcador de ejemplo: {markers}", "en": "example marker: {markers}"},
    "checkdetail.example_number": {"es": "cifra con contexto: «{found}»", "en": "a number in context: «{found}»"},
    "checkdetail.no_example": {"es": "ni marcador de ejemplo («for example», «such as»…) ni cifra con contexto",
                               "en": "no example marker ('for example', 'such as'…) and no number in context"},
    "checkdetail.words": {"es": "{count} palabras (límite {limit})", "en": "{count} words (limit {limit})"},
    "checkdetail.topic": {"es": "{found}/{total}: {words}", "en": "{found}/{total}: {words}"},
    "checkdetail.topic_none": {"es": "{found}/{total}: no aparece ninguna de {words}",
                               "en": "{found}/{total}: none of {words}"},
    "checkdetail.topic_empty": {"es": "el tema no tiene palabras clave", "en": "the topic has no key words"},
    "checkdetail.empty": {"es": "salida vacía", "en": "empty output"},
    "checkdetail.echo": {"es": "el {share}% de sus 3-gramas están en el prompt",
                         "en": "{share}% of its 3-grams are in the prompt"},
    "checkdetail.contains": {"es": "contiene «{pattern}»", "en": "contains «{pattern}»"},
    "checkdetail.lacks": {"es": "no contiene «{pattern}»", "en": "does not contain «{pattern}»"},
    "checkdetail.bad_pattern": {"es": "el patrón no es válido", "en": "the pattern is not valid"},
    "checkdetail.slow_pattern": {"es": "el patrón tardó demasiado", "en": "the pattern took too long"},
    "checkdetail.no_match": {"es": "sin coincidencias", "en": "no match"},
    "checkdetail.matched": {"es": "coincide «{found}»", "en": "matched «{found}»"},
    "checkdetail.broken": {"es": "la comprobación no pudo ejecutarse ({error})",
                           "en": "the check could not run ({error})"},
    "jsonreason.value": {"es": "se esperaba un valor", "en": "a value was expected"},
    "jsonreason.comma": {"es": "falta una coma", "en": "a comma is missing"},
    "jsonreason.colon": {"es": "faltan los dos puntos", "en": "a colon is missing"},
    "jsonreason.extra": {"es": "sobra texto después del JSON", "en": "text after the JSON"},
    "jsonreason.name": {"es": "se esperaba un nombre entre comillas dobles",
                        "en": "a name in double quotes was expected"},
    "jsonreason.unterminated": {"es": "una cadena sin cerrar", "en": "an unclosed string"},
    "jsonreason.control": {"es": "un carácter de control dentro de una cadena",
                           "en": "a control character inside a string"},
    "jsonreason.escape": {"es": "un escape \\ no válido", "en": "an invalid \\ escape"},
    "jsonreason.other": {"es": "error de sintaxis", "en": "syntax error"},
    # --- what is wrong in a lesson file (shared/teaching/lessons.py LessonError) ---
    "lessonfile.line": {"es": "línea {line}", "en": "line {line}"},
    "lessonfile.unreadable": {"es": "no se puede leer el archivo ({detail}).", "en": "the file cannot be read ({detail})."},
    "lessonfile.too_big": {"es": "el archivo pasa de {limit} bytes.", "en": "the file is over {limit} bytes."},
    "lessonfile.not_utf8": {"es": "el archivo no es texto UTF-8.", "en": "the file is not UTF-8 text."},
    "lessonfile.bad_toml": {"es": "no es TOML válido: {detail}.", "en": "not valid TOML: {detail}."},
    "lessonfile.duplicate_id": {"es": "el id «{value}» ya está en uso.", "en": "the id '{value}' is already taken."},
    "lessonfile.not_a_table": {"es": "debe ser una tabla (clave = valor).", "en": "must be a table (key = value)."},
    "lessonfile.not_text": {"es": "debe ser texto.", "en": "must be text."},
    "lessonfile.missing": {"es": "falta (o está vacío).", "en": "is missing (or empty)."},
    "lessonfile.too_long": {"es": "pasa de {limit} caracteres.", "en": "is over {limit} characters."},
    "lessonfile.bad_id": {"es": "el id debe tener de 1 a 40 minúsculas, dígitos, puntos, guiones o guiones bajos.",
                          "en": "the id must have 1 to 40 lowercase letters, digits, dots, dashes or underscores."},
    "lessonfile.not_a_list": {"es": "debe ser una lista (de 12 elementos como mucho).",
                              "en": "must be a list (of at most 12 items)."},
    "lessonfile.no_steps": {"es": "la lección no tiene pasos ([[steps]]).", "en": "the lesson has no steps ([[steps]])."},
    "lessonfile.too_many": {"es": "más de {limit} pasos.", "en": "more than {limit} steps."},
    "lessonfile.one_of": {"es": "debe ser uno de: {choices}.", "en": "must be one of: {choices}."},
    "lessonfile.not_bool": {"es": "debe ser true o false.", "en": "must be true or false."},
    "lessonfile.unknown_field": {"es": "campo desconocido: {value}.", "en": "unknown field: {value}."},
    "lessonfile.bad_config": {"es": "configuración no válida: {detail}", "en": "invalid configuration: {detail}"},
    "lessonfile.options": {"es": "una pregunta de opción múltiple necesita de 2 a {limit} opciones.",
                           "en": "a multiple-choice question needs 2 to {limit} options."},
    "lessonfile.bad_range": {"es": "rango no válido (min < max, step > 0; max_chars de 1 a 500).",
                             "en": "invalid range (min < max, step > 0; max_chars from 1 to 500)."},
    "lessonfile.blind_needs_configs": {
        "es": "una comparación a ciegas necesita una tarea con 2 a {limit} configuraciones (task.configs).",
        "en": "a blind comparison needs a task with 2 to {limit} configurations (task.configs)."},
}


def t(key: str, lang: str, **params: Any) -> str:
    return render(TEXT, key, lang, **params)


def render(table: dict[str, dict[str, str]], key: str, lang: str, **params: Any) -> str:
    """`table[key]` in `lang` (Spanish when it lacks one), formatted; the key itself when there is none."""
    entry = table.get(key)
    if entry is None:
        return key
    template = entry.get(lang) or entry["es"]
    try:
        return template.format(**params)
    except (KeyError, IndexError, ValueError):
        return template
