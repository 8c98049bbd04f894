"""`make invoke`: one sample event (infra/events) through the real Lambda entry point, in this process."""
