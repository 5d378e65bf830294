"""The comparison's tolerances and verdicts (explained in reproduce/compare.py), shared by the
comparison and the report it writes (reproduce/report.py)."""

# metric -> (absolute, relative): the tolerance is max(absolute, relative * |reported|)
TOLERANCES = {"fid": (0.5, 0.10), "is": (0.2, 0.0), "recall": (0.03, 0.0), "modes": (10, 0.0),
              "kl": (0.05, 0.0), "nfe": (0, 0.0)}
VERDICT_PROTOCOL = "paper"   # the FID protocol that gets a verdict

REPRODUCED, DIFFERS, NOT_RUN = "reproduced", "differs", "not run yet"
NOT_MEASURED, NOT_COMPARED = "not measured here", "not compared (device)"
NO_REPORTED, NOT_IN_PACKAGE = "no reported number", "not in this package"
