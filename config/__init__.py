# Load the Celery app with Django so @shared_task binds to it.
from config import dbpool  # noqa: F401  (forked workers open their own pool)
from config.celery import app as celery_app

__all__ = ("celery_app",)
