"""git_commit: the commit recorded with every result says whether the code that ran differs from it;
cpu_model: the CPU named apart from other generations that report the same model name."""
import subprocess

from ddgan.base.provenance import cpu_model, git_commit


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


CPUINFO = """processor\t: {n}
vendor_id\t: AuthenticAMD
model name\t: AMD EPYC
flags\t\t: fpu sse2 {flags} fma
"""


def test_cpu_model_names_the_widest_vector_extension(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    expected = {"avx avx2 avx512f avx512bw": "AMD EPYC, AVX-512", "avx avx2": "AMD EPYC, AVX2", "avx": "AMD EPYC, AVX",
                "ssse3": "AMD EPYC"}
    for flags, name in expected.items():
        cpuinfo.write_text("\n".join(CPUINFO.format(n=n, flags=flags) for n in range(2)))
        assert cpu_model(cpuinfo) == name
    # an avx512 flag of a later processor entry is not read as the first one's
    cpuinfo.write_text(CPUINFO.format(n=0, flags="avx2") + "\n" + CPUINFO.format(n=1, flags="avx512f"))
    assert cpu_model(cpuinfo) == "AMD EPYC, AVX2"
