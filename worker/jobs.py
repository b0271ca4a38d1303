"""The RQ job function every submission is enqueued with (by name, from the dashboard).

`python -m worker` never calls it: its batch worker reads the job's argument and runs the submission
inside the shared engine. It exists so the job is a normal RQ job, and says what to do if a plain
`rq worker` picks it up.
"""


def run_submission(submission_id: str) -> None:
    raise RuntimeError(
        f"submission {submission_id}: Decoding Lab jobs are run by `python -m worker`, which batches them "
        "across students; a plain `rq worker` cannot run them."
    )
