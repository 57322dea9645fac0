"""Shared by every test folder: this file puts ``tests/`` on ``sys.path`` (pytest's default ``prepend``
import mode does so for a rootdir conftest without ``__init__.py``), so the helpers beside it
(``shared_data``, ``reddit_fixtures``, ``workflow_runner``, ``slurm_cluster``) import by name from
``tests/<stage>/``. Test file names are unique across folders for the same reason."""
