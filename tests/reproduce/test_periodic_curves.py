"""The periodic-score curves of training runs, read from their logs."""
import csv
import json

from reproduce.periodic_curves import write_curves


def fake_run(directory, scores):
    directory.mkdir(parents=True)
    (directory / "config.json").write_text(json.dumps({"name": directory.name}))
    lines = []
    for step, (modes, kl) in scores.items():
        lines.append({"step": step, "loss_g": 0.7, "seconds": step * 0.5})
        lines.append({"step": step, "eval/modes": modes, "eval/kl": kl, "eval/confident_fraction": modes / 2000})
    (directory / "log.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    return directory


def test_every_eval_row_of_every_run_becomes_a_csv_row_with_its_training_seconds(tmp_path):
    runs = {"a": fake_run(tmp_path / "a", {500: (100, 2.0), 1000: (300, 1.5)}),
            "b": fake_run(tmp_path / "b", {500: (50, 3.0)})}
    csv_path, json_path, png_path = write_curves(tmp_path / "out" / "curves", runs, {"eval/modes": 1000})
    rows = list(csv.DictReader(open(csv_path)))
    assert [(r["run"], int(r["step"]), float(r["train_seconds"]), int(r["eval/modes"])) for r in rows] == [
        ("a", 500, 250.0, 100), ("a", 1000, 500.0, 300), ("b", 500, 250.0, 50)]
    provenance = json.loads(json_path.read_text())
    assert provenance["runs"]["b"]["config"] == {"name": "b"} and provenance["reference"] == {"eval/modes": 1000}
    assert png_path.stat().st_size > 1000
