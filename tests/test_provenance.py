"""git_commit: the commit recorded with every result says whether the code that ran differs from it."""
import subprocess

from ddgan.core.provenance import git_commit


def git(root, *args):
    subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)


def test_git_commit_is_dirty_for_code_changes_only(tmp_path):
    (tmp_path / "results").mkdir()
    (tmp_path / "code.py").write_text("x = 1\n")
    (tmp_path / "results" / "table.csv").write_text("a\n1\n")
    git(tmp_path, "init", "-q")
    git(tmp_path, "add", ".")
    git(tmp_path, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "init")
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=tmp_path, capture_output=True, text=True).stdout.strip()
    assert git_commit(tmp_path) == head
    (tmp_path / "results" / "table.csv").write_text("a\n2\n")     # a result the run itself wrote
    assert git_commit(tmp_path) == head
    assert git_commit(tmp_path / "results") == head                 # asked from inside the outputs too
    (tmp_path / "code.py").write_text("x = 2\n")
    assert git_commit(tmp_path) == head + "+dirty"
    assert git_commit(tmp_path / "results") == head + "+dirty"      # the whole work tree counts, wherever asked


def test_git_commit_outside_a_repository_is_none(tmp_path):
    assert git_commit(tmp_path) is None
