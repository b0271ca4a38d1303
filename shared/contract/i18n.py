"""Every user-facing string, in Spanish (the course's language) and English.

`t(key, lang, **params)` formats the entry; an unknown key shows the key itself so that a missing
translation is visible in the page rather than crashing it. Tests check both languages are complete.
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
    # --- resource caps on untrusted work (issue 20, section 5) ---
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
    # --- common ---
    "app.title": {"es": "Decoding Lab", "en": "Decoding Lab"},
    "app.language": {"es": "Idioma", "en": "Language"},
    "app.random_weights": {"es": "pesos aleatorios: el texto es ruido",
                           "en": "random weights: the text is noise"},
    "app.demo_model": {"es": "modelo pequeño de demostración entrenado sin conexión, no distilgpt2",
                       "en": "small demo model trained offline, not distilgpt2"},
    "decoding.checking": {"es": "{total} tokens generados; comprobando las instrucciones…",
                          "en": "{total} tokens generated; checking the instructions…"},
    "gallery.refresh": {"es": "{count} resultado(s) nuevo(s): mostrar", "en": "{count} new result(s): show"},
    "join.rejoin_code": {
        "es": "Tu código de reingreso es {rejoin}. Guárdalo: con él vuelves a entrar como tú desde otro navegador "
              "o dispositivo (recargar esta página no hace falta: sigues dentro).",
        "en": "Your rejoin code is {rejoin}. Keep it: with it you get back in as yourself from another browser or "
              "device (reloading this page needs nothing: you stay in)."},
    "join.rejoin_header": {"es": "¿Ya habías entrado? Vuelve con tu código de reingreso",
                           "en": "Joined before? Get back in with your rejoin code"},
    "join.rejoin_input": {"es": "Código de reingreso (p. ej. 17-K3QZ7M2A)", "en": "Rejoin code (e.g. 17-K3QZ7M2A)"},
    "join.rejoin_class": {"es": "Código de la clase a la que vuelves", "en": "Code of the class you return to"},
    "join.rejoin_submit": {"es": "Volver a entrar", "en": "Get back in"},
    "status.queued": {"es": "en cola", "en": "queued"},
    "status.running": {"es": "generando", "en": "running"},
    "status.checking": {"es": "comprobando", "en": "checking"},
    "status.done": {"es": "listo", "en": "done"},
    "status.failed": {"es": "falló", "en": "failed"},
    "history.seeds": {"es": "{count} semillas", "en": "{count} seeds"},
    "decoding.cancel": {"es": "Cancelar este envío", "en": "Cancel this submission"},
    "problem.cancelled": {"es": "Cancelaste este envío.", "en": "You cancelled this submission."},
    "app.submit_unsure": {
        "es": "No se pudo confirmar el envío (Redis no respondió). Vuelve a pulsar: si ya se guardó, se "
              "mostrará ese mismo envío, sin duplicarlo.",
        "en": "Your submission could not be confirmed (Redis did not answer). Press again: if it was stored, "
              "that same submission is shown, never a duplicate."},
    "app.redis_down": {"es": "No se puede conectar con Redis ({url}). Reintentando…",
                       "en": "Cannot reach Redis ({url}). Retrying…"},
    "nav.join": {"es": "Entrar", "en": "Join"},
    "nav.decoding": {"es": "Decodificación", "en": "Decoding"},
    "nav.gallery": {"es": "Galería de la clase", "en": "Class gallery"},
    "nav.instructor": {"es": "Profesor/a", "en": "Instructor"},
    # --- join page ---
    "join.header": {"es": "Entrar a la clase", "en": "Join the class"},
    "join.name": {"es": "Tu nombre", "en": "Your name"},
    "join.class_code": {"es": "Código de clase", "en": "Class code"},
    "join.submit": {"es": "Entrar", "en": "Join"},
    "join.joined": {"es": "Estás en la clase {code} como {name}.", "en": "You are in class {code} as {name}."},
    "join.leave": {"es": "Salir", "en": "Leave"},
    "join.need": {"es": "Primero entra a una clase en la página «Entrar».",
                  "en": "First join a class on the 'Join' page."},
    # --- workers ---
    "workers.none": {"es": "Ningún worker está listo para «{model}»: los envíos esperarán en la cola "
                           "hasta que arranque uno.",
                     "en": "No worker is ready for '{model}': submissions will wait in the queue until one "
                           "starts."},
    "workers.ready": {"es": "{count} worker(s) listos · {model} · {device}",
                      "en": "{count} worker(s) ready · {model} · {device}"},
    "workers.model": {"es": "Modelo", "en": "Model"},
    # --- decoding page ---
    "decoding.header": {"es": "Estrategias de decodificación", "en": "Decoding strategies"},
    "decoding.intro": {"es": "Mismo prompt, varias configuraciones: compara los resultados lado a lado.",
                       "en": "One prompt, several configurations: compare the outputs side by side."},
    "decoding.prompt": {"es": "Prompt", "en": "Prompt"},
    "decoding.configs": {"es": "Configuraciones", "en": "Configurations"},
    "decoding.presets": {"es": "Presets del notebook", "en": "Notebook presets"},
    "decoding.add_row": {"es": "Edita la tabla o añade filas para más configuraciones.",
                         "en": "Edit the table or add rows for more configurations."},
    "decoding.seed": {"es": "Semilla", "en": "Seed"},
    "decoding.run": {"es": "Ejecutar", "en": "Run"},
    "decoding.queued": {"es": "En cola: posición {position} de {depth}.",
                        "en": "Queued: position {position} of {depth}."},
    "decoding.queued_wait": {"es": "En cola: posición {position} de {depth} · espera estimada {seconds} s.",
                             "en": "Queued: position {position} of {depth} · estimated wait {seconds} s."},
    "decoding.running": {"es": "Generando… {done} de {total} tokens.",
                         "en": "Generating… {done} of {total} tokens."},
    "decoding.done": {"es": "Listo en {seconds} s.", "en": "Done in {seconds} s."},
    "decoding.failed": {"es": "El envío falló: {reason}", "en": "The submission failed: {reason}"},
    "decoding.retrying": {"es": "Un worker se detuvo; tu envío vuelve a la cola (intento {attempt}).",
                          "en": "A worker stopped; your submission is back in the queue (attempt {attempt})."},
    "decoding.results": {"es": "Resultados", "en": "Results"},
    "decoding.prompt_label": {"es": "Prompt", "en": "Prompt"},
    "decoding.output": {"es": "Continuación generada", "en": "Generated continuation"},
    "decoding.meta": {"es": "{tokens} tokens · terminó por {reason} · semilla {seed} · {model}",
                      "en": "{tokens} tokens · stopped by {reason} · seed {seed} · {model}"},
    "decoding.reason.eos": {"es": "fin de texto (EOS)", "en": "end of text (EOS)"},
    "decoding.reason.length": {"es": "longitud máxima", "en": "max length"},
    "decoding.history": {"es": "Mis envíos anteriores", "en": "My earlier submissions"},
    "decoding.show": {"es": "Mostrar", "en": "Show"},
    "col.strategy": {"es": "estrategia", "en": "strategy"},
    "col.temperature": {"es": "temperatura", "en": "temperature"},
    "col.top_k": {"es": "top_k (vacío = 50 · 0 = sin top-k)", "en": "top_k (empty = 50 · 0 = no top-k)"},
    "col.top_p": {"es": "top_p", "en": "top_p"},
    "col.repetition_penalty": {"es": "repetition_penalty", "en": "repetition_penalty"},
    "col.max_new_tokens": {"es": "max_new_tokens", "en": "max_new_tokens"},
    "decoding.sweep": {"es": "Barrido", "en": "Sweep"},
    "sweep.presets": {"es": "Presets del notebook", "en": "Notebook presets"},
    "sweep.temperature": {"es": "Temperatura 0.1 / 0.7 / 1.5", "en": "Temperature 0.1 / 0.7 / 1.5"},
    "sweep.top_k_top_p": {"es": "Rejilla top-k × top-p", "en": "top-k × top-p grid"},
    "sweep.repetition": {"es": "repetition_penalty 1.0 → 1.5", "en": "repetition_penalty 1.0 → 1.5"},
    "sweep.seeds": {"es": "Cinco semillas de una configuración", "en": "Five seeds of one configuration"},
    "col.seed": {"es": "semilla (vacío = la de arriba)", "en": "seed (empty = the one above)"},
    "decoding.cached": {"es": "respuesta de la caché: misma petición ya generada, sin usar el modelo",
                        "en": "answered from the cache: the same request was generated before, no model work"},
    "decoding.run_again": {"es": "Repetir exactamente", "en": "Run again exactly"},
    "decoding.config_full": {"es": "Configuración efectiva: {config} · semilla {seed} · modelo {model}",
                             "en": "Effective config: {config} · seed {seed} · model {model}"},
    "metrics.line": {"es": "perplejidad {perplexity} · log-prob media {mean_logprob} · distinct-1 {distinct_1} · "
                           "distinct-2 {distinct_2} · 3-gramas repetidos {repeated_3gram_share} · bucle: {loop}",
                     "en": "perplexity {perplexity} · mean log-prob {mean_logprob} · distinct-1 {distinct_1} · "
                           "distinct-2 {distinct_2} · repeated 3-grams {repeated_3gram_share} · loop: {loop}"},
    "metrics.yes": {"es": "sí", "en": "yes"},
    "metrics.no": {"es": "no", "en": "no"},
    "tokens.header": {"es": "Tokens y probabilidades", "en": "Tokens and probabilities"},
    "tokens.caption": {"es": "p modelo: probabilidad que el modelo dio al token elegido. p muestreo: su probabilidad "
                              "en la distribución de la que se muestreó (tras penalización, temperatura, top-k, top-p).",
                       "en": "p model: the probability the model gave the chosen token. p sampled: its probability in "
                             "the distribution actually sampled from (after penalty, temperature, top-k, top-p)."},
    "tokens.pick": {"es": "Token n.º", "en": "Token #"},
    "tokens.before": {"es": "Top-5 del modelo (antes)", "en": "Model's top 5 (before)"},
    "tokens.after": {"es": "Top-5 tras la configuración (después)", "en": "Top 5 after the config (after)"},
    "col.token": {"es": "token", "en": "token"},
    "col.p_model": {"es": "p modelo", "en": "p model"},
    "col.p_sampled": {"es": "p muestreo", "en": "p sampled"},
    "col.p": {"es": "p", "en": "p"},
    "explorer.header": {"es": "Explorador del siguiente token", "en": "Next-token explorer"},
    "explorer.intro": {"es": "La distribución del siguiente token tras el prompt, y cómo la recortan y deforman "
                              "los controles.",
                       "en": "The distribution of the token after the prompt, and how the controls reshape and cut it."},
    "explorer.compute": {"es": "Calcular distribución", "en": "Compute distribution"},
    "explorer.waiting": {"es": "Esperando al worker…", "en": "Waiting for the worker…"},
    "explorer.stats": {"es": "tokens conservados: {kept} · masa conservada: {mass}% · entropía: {entropy_model} → "
                              "{entropy} bits",
                       "en": "tokens kept: {kept} · probability mass kept: {mass}% · entropy: {entropy_model} → "
                             "{entropy} bits"},
    "explorer.kept": {"es": "conservado", "en": "kept"},
    "explorer.removed": {"es": "eliminado", "en": "removed"},
    "theory.header": {"es": "Teoría: qué hace cada control", "en": "Theory: what each control does"},
    "theory.greedy": {"es": "Greedy elige siempre el token más probable (tras la penalización de repetición): "
                             "determinista, tiende a repetirse.",
                      "en": "Greedy always picks the most likely token (after the repetition penalty): deterministic, "
                            "prone to loops."},
    "theory.temperature": {"es": "La temperatura divide los logits: T < 1 agudiza la distribución (menos variedad; "
                                  "mira las barras del explorador), T > 1 la aplana (más sorpresa, menos coherencia).",
                           "en": "Temperature divides the logits: T < 1 sharpens the distribution (less variety; see "
                                 "the explorer's bars), T > 1 flattens it (more surprise, less coherence)."},
    "theory.top_k": {"es": "top-k conserva solo los k tokens más probables. Si no lo fijas, transformers usa 50 al "
                            "muestrear: por eso el preset «T 0.3, top-p 0.9» corre también con top-k 50.",
                     "en": "top-k keeps only the k most likely tokens. Left empty, transformers uses 50 when "
                           "sampling: that is why the 'T 0.3, top-p 0.9' preset also runs with top-k 50."},
    "theory.top_p": {"es": "top-p (nucleus) conserva el grupo más pequeño de tokens cuya probabilidad suma p: "
                            "se adapta a cuán segura está el modelo.",
                     "en": "top-p (nucleus) keeps the smallest set of tokens whose probability adds up to p: it "
                           "adapts to how sure the model is."},
    "theory.repetition_penalty": {"es": "repetition_penalty > 1 divide los logits positivos (y multiplica los "
                                         "negativos) de los tokens ya vistos en el prompt o la salida: menos bucles.",
                                  "en": "repetition_penalty > 1 divides positive logits (and multiplies negative "
                                        "ones) of tokens already in the prompt or output: fewer loops."},
    "theory.seed": {"es": "La semilla fija el azar: misma semilla + mismo prompt + misma configuración = mismo texto, "
                           "aunque se ejecute junto a los envíos de toda la clase.",
                    "en": "The seed fixes the randomness: same seed + prompt + config = same text, even when run "
                          "alongside the whole class's submissions."},
    "nav.ablation": {"es": "Ablación de prompts", "en": "Prompt ablation"},
    "ablation.header": {"es": "Ablación de contexto en prompts", "en": "Prompt-context ablation"},
    "ablation.intro": {"es": "¿Qué instrucciones respeta un modelo pequeño y cuáles ignora? Construye el prompt por "
                              "partes; cada variante quita una parte y se muestrea con las mismas semillas.",
                       "en": "Which instructions does a small model respect, and which does it ignore? Build the "
                             "prompt from parts; each variant leaves one out and is sampled with the same seeds."},
    "ablation.topic": {"es": "Tema", "en": "Topic"},
    "ablation.tone": {"es": "Tono", "en": "Tone"},
    "ablation.summary": {"es": "Resumen final", "en": "Closing summary"},
    "ablation.use": {"es": "incluir", "en": "include"},
    "ablation.extras": {"es": "Instrucciones añadidas", "en": "Added instructions"},
    "ablation.word_limit": {"es": "N palabras", "en": "N words"},
    "ablation.structure": {"es": "Estructura", "en": "Structure"},
    "structure.instruction": {"es": "instrucción explícita", "en": "explicit instruction"},
    "structure.question": {"es": "pregunta directa", "en": "direct question"},
    "structure.few_shot": {"es": "few-shot (con un ejemplo)", "en": "few-shot (with an example)"},
    "ablation.custom_variants": {"es": "Variantes propias, una por línea: nombre: texto",
                                 "en": "Your own variants, one per line: name: text"},
    "ablation.custom_check": {"es": "Comprobación propia", "en": "Your own check"},
    "ablation.custom_kind.none": {"es": "ninguna", "en": "none"},
    "ablation.custom_kind.contains": {"es": "contiene", "en": "contains"},
    "ablation.custom_kind.regex": {"es": "expresión regular", "en": "regular expression"},
    "ablation.pattern": {"es": "Texto o patrón", "en": "Text or pattern"},
    "ablation.samples": {"es": "Muestras por variante", "en": "Samples per variant"},
    "ablation.variants": {"es": "Variantes (texto exacto que verá el modelo)",
                          "en": "Variants (the exact text the model will see)"},
    "ablation.matrix": {"es": "Matriz de efectos: % de salidas que cumplen cada instrucción",
                        "en": "Effect matrix: share of outputs meeting each instruction"},
    "ablation.matrix_caption": {"es": "Cada celda: cumplen/muestras (tasa) y el cambio frente al prompt completo.",
                                "en": "Each cell: passed/samples (rate) and the change against the full prompt."},
    "ablation.samples_of": {"es": "Salidas de la variante", "en": "Outputs of variant"},
    "col.variant": {"es": "variante", "en": "variant"},
    "col.prompt": {"es": "prompt", "en": "prompt"},
    "col.check": {"es": "comprobación", "en": "check"},
    "col.rate": {"es": "tasa", "en": "rate"},
    "check.three_bullets": {"es": "3 viñetas al final", "en": "3 bullets at the end"},
    "check.valid_json": {"es": "JSON válido", "en": "valid JSON"},
    "check.no_jargon": {"es": "sin jerga", "en": "no jargon"},
    "check.has_example": {"es": "ejemplo concreto", "en": "concrete example"},
    "check.word_limit": {"es": "límite de palabras", "en": "word limit"},
    "check.topic_words": {"es": "menciona el tema", "en": "mentions the topic"},
    "check.not_an_echo": {"es": "no repite el prompt", "en": "does not echo the prompt"},
    "check.custom": {"es": "comprobación propia", "en": "own check"},
    "check.result": {"es": "{mark} · {name}: {detail}", "en": "{mark} · {name}: {detail}"},
    # --- why a check passed or failed (shared/teaching/checks.py CheckResult keys) ---
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
    # --- an effective config and a field, as the class reads them (shared/contract/decoding.py, shared/contract/problems.py) ---
    "config.greedy": {"es": "greedy", "en": "greedy"},
    "config.sampling": {"es": "sampling", "en": "sampling"},
    "config.no_top_k": {"es": "sin top-k", "en": "no top-k"},
    "config.tokens": {"es": "{count} tok", "en": "{count} tok"},
    "field.temperature": {"es": "«temperatura»", "en": "temperature"},
    "field.top_k": {"es": "top_k", "en": "top_k"},
    "field.top_p": {"es": "top_p", "en": "top_p"},
    "field.repetition_penalty": {"es": "repetition_penalty", "en": "repetition_penalty"},
    "field.max_new_tokens": {"es": "max_new_tokens", "en": "max_new_tokens"},
    "field.seed": {"es": "«semilla»", "en": "seed"},
    "problem.in_row": {"es": "Fila {row}: {message}", "en": "Row {row}: {message}"},
    # --- result cards (dashboard/widgets.py output_card) ---
    "common.seed": {"es": "semilla {seed}", "en": "seed {seed}"},
    "card.meta": {"es": "{tokens} tokens nuevos · terminó por {reason}",
                  "en": "{tokens} new tokens · stopped by {reason}"},
    "card.show_all": {"es": "Mostrar todo ({chars} caracteres)", "en": "Show all ({chars} characters)"},
    "card.hidden_own": {"es": "Tu profesor/a ocultó este resultado a la clase (tú lo sigues viendo).",
                        "en": "Your instructor hid this result from the class (you still see it)."},
    # --- gallery: charts, compare (dashboard/views/gallery.py) ---
    "chart.value": {"es": "valor (0–1)", "en": "value (0–1)"},
    "chart.one_value": {"es": "Solo hay un valor de repetition_penalty por ahora: el gráfico compara cuando la clase "
                              "pruebe más (barrido «repetition_penalty 1.0 → 1.5»).",
                        "en": "Only one repetition_penalty value so far: the chart compares once the class tries more "
                              "(the 'repetition_penalty 1.0 → 1.5' sweep)."},
    "gallery.compare_reach": {"es": "Elige entre las {count} salidas que dejan los filtros (escribe para buscar).",
                              "en": "Pick among the {count} outputs the filters keep (type to search)."},
    "gallery.diff_header": {"es": "Diferencias por palabra", "en": "Word-level differences"},
    "gallery.need_two_kept": {"es": "Hacen falta al menos dos salidas que cumplan los filtros.",
                              "en": "At least two outputs matching the filters are needed."},
    "gallery.diff_legend": {"es": "Tachado en rojo: solo en A · subrayado en verde: solo en B",
                            "en": "Struck through in red: only in A · underlined in green: only in B"},
    # --- token view and explorer (dashboard/lab_widgets.py) ---
    "tokens.number": {"es": "n.º", "en": "#"},
    "explorer.top_k_zero": {"es": "top_k = 0: sin recorte (todos los tokens).",
                            "en": "top_k = 0: no cut (every token)."},
    "explorer.model_tick": {"es": "probabilidad del modelo (sin ajustes)", "en": "model's probability (unchanged)"},
    "explorer.legend": {
        "es": "Barras azules: probabilidad con la que se muestrearía cada token con estos controles. Barras grises: "
              "tokens que top-k o top-p eliminan, con la probabilidad que tenían antes del corte. Marcas negras: lo "
              "que el modelo daba a cada token, sin penalización ni temperatura.",
        "en": "Blue bars: the probability each token would be sampled with under these controls. Grey bars: tokens "
              "top-k or top-p remove, at the probability they had before the cut. Black ticks: what the model gave "
              "each token, with no penalty or temperature."},
    # --- instructor console (dashboard/views/instructor.py) ---
    "col.student": {"es": "estudiante", "en": "student"},
    "col.joined_at": {"es": "entró a las", "en": "joined at"},
    "col.submissions": {"es": "envíos", "en": "submissions"},
    "col.error": {"es": "motivo", "en": "reason"},
    "col.worker.name": {"es": "worker", "en": "worker"},
    "col.worker.host": {"es": "máquina", "en": "host"},
    "col.worker.model": {"es": "modelo", "en": "model"},
    "col.worker.device": {"es": "dispositivo", "en": "device"},
    "col.worker.in_flight": {"es": "envíos en curso", "en": "submissions in flight"},
    "col.worker.tokens_per_s": {"es": "tokens/s", "en": "tokens/s"},
    "col.worker.max_batch": {"es": "lote máximo", "en": "max batch"},
    "col.worker.seen_s": {"es": "último aviso (s)", "en": "last heard (s ago)"},
    "instructor.live": {"es": "En directo: se actualiza cada {seconds} s · {time}",
                        "en": "Live: refreshes every {seconds} s · {time}"},
    "instructor.reopen": {"es": "Reabrir la clase {code}", "en": "Reopen class {code}"},
    "instructor.close_confirm": {
        "es": "¿Cerrar la clase {code}? Sus estudiantes ya no podrán entrar ni enviar; sus resultados se conservan "
              "y puedes reabrirla cuando quieras.",
        "en": "Close class {code}? Its students can no longer join or submit; their results are kept and you can "
              "reopen it at any time."},
    "instructor.close_yes": {"es": "Sí, cerrar {code}", "en": "Yes, close {code}"},
    "instructor.close_no": {"es": "Cancelar", "en": "Cancel"},
    "problem.class_closed": {"es": "La clase existe, pero tu profesor/a la ha cerrado: ya no admite entradas ni "
                                   "envíos. Pídele que la reabra.",
                             "en": "The class exists, but your instructor has closed it: it no longer takes new "
                                   "students or submissions. Ask them to reopen it."},
    # --- gallery ---
    "gallery.header": {"es": "Galería de la clase {code}", "en": "Class gallery {code}"},
    "gallery.empty": {"es": "Aún no hay resultados en esta clase.", "en": "No results in this class yet."},
    "gallery.group": {"es": "{label} · {count} salida(s)", "en": "{label} · {count} output(s)"},
    "gallery.by": {"es": "{student} · {when}", "en": "{student} · {when}"},
    "common.with_seed": {"es": "{who} · semilla {seed}", "en": "{who} · seed {seed}"},
    "gallery.pending": {"es": "{count} envío(s) pendientes en la cola", "en": "{count} submission(s) pending"},
    "gallery.tab.outputs": {"es": "Salidas", "en": "Outputs"},
    "gallery.tab.groups": {"es": "Grupos", "en": "Groups"},
    "gallery.tab.charts": {"es": "Gráficos", "en": "Charts"},
    "gallery.tab.compare": {"es": "Comparar", "en": "Compare"},
    "gallery.tab.spotlight": {"es": "Proyector", "en": "Spotlight"},
    "gallery.all": {"es": "(todos)", "en": "(all)"},
    "gallery.lab": {"es": "Laboratorio", "en": "Lab"},
    "gallery.prompt": {"es": "Prompt", "en": "Prompt"},
    "gallery.config": {"es": "Configuración", "en": "Configuration"},
    "gallery.student": {"es": "Estudiante", "en": "Student"},
    "gallery.starred": {"es": "Solo destacadas", "en": "Starred only"},
    "gallery.search": {"es": "Buscar en el texto", "en": "Search the text"},
    "gallery.sort": {"es": "Ordenar por", "en": "Sort by"},
    "sort.newest": {"es": "más recientes", "en": "newest"},
    "sort.stars": {"es": "destacadas", "en": "stars"},
    "sort.perplexity": {"es": "perplejidad", "en": "perplexity"},
    "sort.distinct_2": {"es": "distinct-2", "en": "distinct-2"},
    "sort.tokens": {"es": "longitud", "en": "length"},
    "gallery.page": {"es": "Página", "en": "Page"},
    "gallery.count": {"es": "{total} salida(s) · página {page} de {pages}", "en": "{total} output(s) · page {page} of {pages}"},
    "gallery.differ": {"es": "Solo grupos cuyas salidas difieren de greedy (elige un prompt)",
                       "en": "Only groups whose outputs differ from greedy (pick a prompt)"},
    "gallery.star": {"es": "★ Destacar", "en": "★ Star"},
    "gallery.unstar": {"es": "☆ Quitar destacado", "en": "☆ Unstar"},
    "gallery.hide": {"es": "Ocultar a estudiantes", "en": "Hide from students"},
    "gallery.unhide": {"es": "Mostrar a estudiantes", "en": "Show to students"},
    "gallery.comment": {"es": "Comentario para la clase", "en": "Comment for the class"},
    "gallery.save_comment": {"es": "Guardar comentario", "en": "Save comment"},
    "gallery.starred_mark": {"es": "★ destacada por el profesor/a", "en": "★ starred by the instructor"},
    "gallery.hidden_mark": {"es": "oculta a los estudiantes", "en": "hidden from students"},
    "gallery.comment_mark": {"es": "✎ {comment}", "en": "✎ {comment}"},
    "gallery.left": {"es": "Salida A", "en": "Output A"},
    "gallery.right": {"es": "Salida B", "en": "Output B"},
    "gallery.diff": {"es": "Diferencias por palabra: [-solo en A-] {{+solo en B+}}",
                     "en": "Word-level differences: [-only in A-] {{+only in B+}}"},
    "gallery.need_two": {"es": "Hacen falta al menos dos salidas en la página actual.",
                         "en": "At least two outputs are needed on the current page."},
    "chart.temperature": {"es": "distinct-2 y tasa de bucles según la temperatura",
                          "en": "distinct-2 and loop rate against temperature"},
    "chart.penalty": {"es": "distinct-2 y tasa de bucles según repetition_penalty",
                      "en": "distinct-2 and loop rate against repetition_penalty"},
    "chart.checks": {"es": "Cumplimiento de instrucciones por variante", "en": "Instruction pass rate by variant"},
    "chart.empty": {"es": "Aún no hay datos para este gráfico.", "en": "No data for this chart yet."},
    "col.label": {"es": "configuración", "en": "configuration"},
    "col.count": {"es": "salidas", "en": "outputs"},
    "col.median_tokens": {"es": "mediana tokens", "en": "median tokens"},
    "col.distinct_2": {"es": "distinct-2", "en": "distinct-2"},
    "col.loop_rate": {"es": "tasa de bucles", "en": "loop rate"},
    "spotlight.empty": {"es": "El profesor/a aún no ha destacado ninguna salida.",
                        "en": "The instructor has not starred any output yet."},
    "instructor.students": {"es": "Estudiantes de {code}", "en": "Students of {code}"},
    "instructor.workers": {"es": "Workers activos", "en": "Live workers"},
    "instructor.no_workers": {"es": "Ningún worker activo.", "en": "No live worker."},
    "instructor.failed": {"es": "Envíos fallidos", "en": "Failed submissions"},
    "instructor.requeue": {"es": "Reencolar los fallidos de {model}", "en": "Requeue failed ones of {model}"},
    "instructor.requeued": {"es": "{count} envío(s) vuelven a la cola.", "en": "{count} submission(s) back in the queue."},
    "instructor.export_csv": {"es": "Exportar {code} (CSV)", "en": "Export {code} (CSV)"},
    "instructor.export_json": {"es": "Exportar {code} (JSON)", "en": "Export {code} (JSON)"},
    "instructor.class": {"es": "Clase", "en": "Class"},
    "instructor.logout": {"es": "Cerrar sesión", "en": "Log out"},
    # --- instructor ---
    "instructor.header": {"es": "Consola del profesor/a", "en": "Instructor console"},
    "instructor.no_password": {
        "es": "La consola está bloqueada: no hay contraseña configurada. Arranca el servicio con la variable "
              "de entorno DECODELAB_INSTRUCTOR_PASSWORD, por ejemplo "
              "`DECODELAB_INSTRUCTOR_PASSWORD='una-frase-larga' make run`.",
        "en": "The console is locked: no password is configured. Start the service with the environment "
              "variable DECODELAB_INSTRUCTOR_PASSWORD, e.g. `DECODELAB_INSTRUCTOR_PASSWORD='a-long-phrase' "
              "make run`."},
    "instructor.password": {"es": "Contraseña", "en": "Password"},
    "instructor.login": {"es": "Entrar", "en": "Log in"},
    "instructor.wrong_password": {"es": "Contraseña incorrecta.", "en": "Wrong password."},
    "instructor.login_wait": {
        "es": "Demasiados intentos fallidos. Espera {seconds} s antes de volver a probar.",
        "en": "Too many failed attempts. Wait {seconds} s before trying again."},
    "instructor.logged_in": {"es": "Sesión de profesor/a iniciada.", "en": "Logged in as instructor."},
    "instructor.new_class": {"es": "Código de la nueva clase", "en": "New class code"},
    "instructor.create": {"es": "Crear clase", "en": "Create class"},
    "instructor.created": {"es": "Clase {code} abierta: los estudiantes entran con este código.",
                           "en": "Class {code} is open: students join with this code."},
    "instructor.classes": {"es": "Clases", "en": "Classes"},
    "instructor.class_row": {"es": "{code} · {students} estudiante(s) · {outputs} salida(s) · {state}",
                             "en": "{code} · {students} student(s) · {outputs} output(s) · {state}"},
    "instructor.open": {"es": "abierta", "en": "open"},
    "instructor.closed": {"es": "cerrada", "en": "closed"},
    "instructor.close": {"es": "Cerrar clase {code}", "en": "Close class {code}"},
    "instructor.bad_code": {"es": "El código debe tener de 3 a 24 letras, números o guiones.",
                            "en": "The code must have 3 to 24 letters, digits or dashes."},
    "instructor.queue": {"es": "Cola: {queued} en espera · {running} en ejecución · {failed} fallidos",
                         "en": "Queue: {queued} waiting · {running} running · {failed} failed"},
    # --- the door and the roster (issue 20: shared/services/door.py, roster.py; dashboard/roster_console.py) ---
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
    "join.removed": {"es": "Tu profesor/a te ha quitado de la clase {code}.",
                     "en": "Your instructor removed you from class {code}."},
    "instructor.logged_out": {"es": "Sesión cerrada: el enlace de esta sesión ya no sirve.",
                              "en": "Logged out: this session's link no longer works."},
    "roster.header": {"es": "Lista de la clase {code}", "en": "Roster of {code}"},
    "roster.empty": {"es": "Nadie ha entrado todavía.", "en": "No one has joined yet."},
    "roster.locked": {"es": "Entradas bloqueadas: nadie nuevo puede entrar (los que ya están siguen dentro).",
                      "en": "Joining locked: no one new can join (those already in stay in)."},
    "roster.unlocked": {"es": "Entradas abiertas: cualquiera con el código puede entrar.",
                        "en": "Joining open: anyone with the code can join."},
    "roster.lock": {"es": "Bloquear entradas", "en": "Lock joining"},
    "roster.unlock": {"es": "Desbloquear entradas", "en": "Unlock joining"},
    "roster.expected": {"es": "Tamaño esperado (0 = sin límite)", "en": "Expected size (0 = no limit)"},
    "roster.expected_help": {"es": "Al llegar a este número de estudiantes, nadie más puede entrar.",
                             "en": "Once this many students are in, no one else can join."},
    "roster.expected_set": {"es": "Guardar tamaño", "en": "Save size"},
    "roster.count": {"es": "{students} estudiante(s) en la clase · tamaño esperado: {expected}",
                     "en": "{students} student(s) in the class · expected size: {expected}"},
    "roster.no_limit": {"es": "sin límite", "en": "no limit"},
    "roster.pick": {"es": "Estudiante", "en": "Student"},
    "roster.remove": {"es": "Quitar de la clase", "en": "Remove from the class"},
    "roster.remove_confirm": {
        "es": "¿Quitar a {names} de la clase? Sus envíos pendientes se cancelan, sus resultados se ocultan, su "
              "código de reingreso deja de valer y su sesión se cierra.",
        "en": "Remove {names} from the class? Their pending submissions are cancelled, their results hidden, "
              "their rejoin code void and their session ended."},
    "roster.remove_yes": {"es": "Sí, quitar", "en": "Yes, remove"},
    "roster.removed": {"es": "{count} estudiante(s) fuera de la clase.", "en": "{count} student(s) removed."},
    "roster.bulk_minutes": {"es": "Quitar en bloque: quienes entraron en los últimos (minutos)",
                            "en": "Remove in bulk: those who joined in the last (minutes)"},
    "roster.bulk_remove": {"es": "Quitar a los {count} que entraron en los últimos {minutes} min",
                           "en": "Remove the {count} who joined in the last {minutes} min"},
    "roster.new_rejoin": {"es": "Nuevo código de reingreso", "en": "New rejoin code"},
    "roster.new_rejoin_done": {"es": "Nuevo código de reingreso de {name}: {rejoin} (el anterior ya no vale).",
                               "en": "{name}'s new rejoin code: {rejoin} (the old one no longer works)."},
    "roster.removed_list": {"es": "Quitados de la clase: {names}", "en": "Removed from the class: {names}"},
    "col.student_id": {"es": "id", "en": "id"},
    # --- lessons the instructor leads (issue 23: shared/teaching/lessons.py, services/lessons.py) ---
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
    "lesson.banner": {"es": "Lección: {title} · paso {number} de {total}", "en": "Lesson: {title} · step {number} of {total}"},
    "lesson.go_to_lab": {"es": "Este paso se hace en {lab}", "en": "This step happens in {lab}"},
    "lesson.what_now": {"es": "Qué hacer ahora: {step}", "en": "What to do now: {step}"},
    "lesson.no_lesson_now": {"es": "Aún no hay ninguna lección en marcha: prueba los laboratorios.",
                             "en": "No lesson is running yet: try the labs."},
    "lesson.objectives": {"es": "Objetivos", "en": "Objectives"},
    "lesson.question": {"es": "Pregunta", "en": "Question"},
    "lesson.your_answer": {"es": "Tu respuesta", "en": "Your answer"},
    "lesson.send": {"es": "Enviar respuesta", "en": "Send answer"},
    "lesson.saved": {"es": "Respuesta guardada (puedes cambiarla hasta que se cierre la pregunta).",
                     "en": "Answer saved (you can change it until the question closes)."},
    "lesson.answered": {"es": "Tu respuesta: {answer}", "en": "Your answer: {answer}"},
    "lesson.waiting_question": {"es": "La pregunta se abrirá cuando lo diga el profesor/a.",
                                "en": "The question opens when the instructor says so."},
    "lesson.closed": {"es": "La pregunta está cerrada.", "en": "The question is closed."},
    "lesson.hidden": {"es": "Los resultados de este paso están ocultos hasta que el profesor/a los revele.",
                      "en": "This step's results are hidden until the instructor reveals them."},
    "lesson.text_n": {"es": "Texto {number}", "en": "Text {number}"},
    "lesson.which_config": {"es": "¿Qué configuración generó el texto {number}?",
                            "en": "Which configuration made text {number}?"},
    "lesson.made_by": {"es": "Lo generó: {config}", "en": "Made by: {config}"},
    "lesson.guessed": {"es": "La clase acertó {right} de {total}", "en": "The class got it right {right} of {total} times"},
    "lesson.prompt_was": {"es": "Prompt: {prompt}", "en": "Prompt: {prompt}"},
    "lesson.answered_count": {"es": "{answered} de {students} han respondido", "en": "{answered} of {students} answered"},
    "lesson.no_answers": {"es": "Aún no hay respuestas.", "en": "No answers yet."},
    "lesson.count": {"es": "respuestas", "en": "answers"},
    "lesson.median": {"es": "Mediana: {value} · {count} respuestas", "en": "Median: {value} · {count} answers"},
    "lesson.console": {"es": "Lección", "en": "Lesson"},
    "lesson.pick": {"es": "Lección para {code}", "en": "Lesson for {code}"},
    "lesson.start": {"es": "Empezar la lección", "en": "Start the lesson"},
    "lesson.stop": {"es": "Terminar la lección", "en": "End the lesson"},
    "lesson.previous": {"es": "◀ Anterior", "en": "◀ Previous"},
    "lesson.next": {"es": "Siguiente ▶", "en": "Next ▶"},
    "lesson.open_question": {"es": "Abrir la pregunta", "en": "Open the question"},
    "lesson.close_question": {"es": "Cerrar la pregunta", "en": "Close the question"},
    "lesson.reveal": {"es": "Revelar", "en": "Reveal"},
    "lesson.unreveal": {"es": "Ocultar de nuevo", "en": "Hide again"},
    "lesson.state": {"es": "Pregunta: {question} · resultados: {results}", "en": "Question: {question} · results: {results}"},
    "lesson.state.none": {"es": "sin pregunta", "en": "no question"},
    "lesson.state.": {"es": "sin abrir", "en": "not opened"},
    "lesson.state.open": {"es": "abierta", "en": "open"},
    "lesson.state.closed": {"es": "cerrada", "en": "closed"},
    "lesson.results.shown": {"es": "visibles", "en": "shown"},
    "lesson.results.hidden": {"es": "ocultos hasta revelar", "en": "hidden until the reveal"},
    "lesson.present": {"es": "Abrir el modo presentación", "en": "Open presentation mode"},
    "lesson.file_errors": {"es": "Lecciones con errores (no se pueden usar hasta corregirlas):",
                           "en": "Lessons with errors (unusable until fixed):"},
    "lesson.who_answered": {"es": "Quién ha respondido", "en": "Who answered"},
    "lesson.export_csv": {"es": "Respuestas y salidas de {code} (CSV)", "en": "Answers and outputs of {code} (CSV)"},
    "lesson.export_md": {"es": "Informe de {code} por estudiante (Markdown)", "en": "Report of {code} by student (Markdown)"},
    "lesson.need_instructor": {"es": "El modo presentación es del profesor/a: inicia sesión en la consola.",
                               "en": "Presentation mode is the instructor's: log in on the console."},
    "lesson.pick_class": {"es": "Clase", "en": "Class"},
    "lesson.none_running": {"es": "La clase {code} no tiene ninguna lección en marcha: empiézala en la consola.",
                            "en": "Class {code} has no lesson running: start one on the console."},
    "lesson.spotlight": {"es": "Salidas destacadas", "en": "Spotlighted outputs"},
    "lesson.col.student": {"es": "estudiante", "en": "student"},
    "lesson.col.answer": {"es": "respuesta", "en": "answer"},
    "nav.present": {"es": "Presentación", "en": "Presentation"},
    "lesson.kind.choice": {"es": "opción múltiple", "en": "multiple choice"},
    "lesson.kind.number": {"es": "número", "en": "number"},
    "lesson.kind.text": {"es": "texto libre", "en": "free text"},
    "lesson.kind.blind": {"es": "comparación a ciegas", "en": "blind comparison"},
    "lesson.exports": {"es": "Exportar respuestas y salidas de {code}", "en": "Export answers and outputs of {code}"},
    "lesson.report.answers": {"es": "Respuestas", "en": "Answers"},
    "lesson.report.outputs": {"es": "Salidas", "en": "Outputs"},
    "lesson.report.prompt": {"es": "Prompt", "en": "Prompt"},
    "lesson.report.none": {"es": "ninguna", "en": "none"},
    # --- fair share and storage (docs/fairness-and-storage.md) ---
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
    "instructor.retention": {
        "es": "Cerrada: sus datos se borrarán el {date} ({days} días tras el cierre). Descarga antes el CSV/JSON.",
        "en": "Closed: its data will be deleted on {date} ({days} days after closing). Download the CSV/JSON first."},
}


# --- issue 22: streamed text, prompts on cards, cancelled as its own state (dashboard views) ---------------
# Symbols only from what every font stack has (DejaVu, as Debian's chromium falls back to): no emoji.
TEXT.update({
    "card.prompt": {"es": "Prompt: «{prompt}»", "en": "Prompt: “{prompt}”"},
    "card.prompt_all": {"es": "Prompt completo", "en": "Full prompt"},
    "card.seed_greedy": {"es": "semilla {seed} (greedy no la usa)", "en": "seed {seed} (greedy ignores it)"},
    "decoding.starting": {"es": "Empezando: un worker acaba de tomar tu envío…",
                          "en": "Starting: a worker has just taken your submission…"},
    "decoding.cancelled": {"es": "Cancelaste este envío: no se generó nada más.",
                           "en": "You cancelled this submission: nothing more was generated."},
    "status.cancelled": {"es": "cancelado", "en": "cancelled"},
    "stream.writing": {"es": "escribiendo… {tokens} tokens", "en": "writing… {tokens} tokens"},
    "stream.done": {"es": "✓ terminada · {tokens} tokens", "en": "✓ finished · {tokens} tokens"},
    "check.passed": {"es": "✔ cumple", "en": "✔ pass"},
    "check.failed": {"es": "✘ no cumple", "en": "✘ fail"},
    "ablation.extras_placeholder": {"es": "Elige instrucciones", "en": "Choose instructions"},
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
    "instructor.model_queue": {  # "model": a class may have the same name as a model ("demo")
        "es": "Cola del modelo {model}: {queued} en espera · {running} en ejecución · {failed} fallidos",
        "en": "Queue of model {model}: {queued} waiting · {running} running · {failed} failed"},
})


def t(key: str, lang: str, **params: Any) -> str:
    entry = TEXT.get(key)
    if entry is None:
        return key
    template = entry.get(lang) or entry["es"]
    try:
        return template.format(**params)
    except (KeyError, IndexError, ValueError):
        return template
