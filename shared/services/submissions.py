"""Kept only for RQ jobs enqueued before the services were split: each names its failure callback by
dotted path, `shared.services.submissions.job_failed`, and RQ imports that path when the job fails
(possibly days later, from a job still queued or in a registry). New jobs name
`shared.services.lost_jobs.job_failed` (`submit.ON_FAILURE`). Nothing else lives here: submitting is
in services/submit.py, validation in services/validation.py (docs/architecture.md, "The services").
"""

from shared.services.lost_jobs import job_failed

__all__ = ["job_failed"]
