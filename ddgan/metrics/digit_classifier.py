"""A small CNN that labels single digits: ddgan trains it to count the modes of stacked-digit samples.

It takes one channel with pixels in [-1, 1] (the range of samples) at one fixed size: train it on the
digits the stacks are made of, at the size of the samples (MNIST padded by 2 to 32x32 for
StackedMNIST; scikit-learn's 8x8 digits for the small demo). The saved file records its test accuracy.

    python -m ddgan.metrics.digit_classifier --npz mnist.npz --pad 2 --out digit_classifier.pt

trains on an .npz with x_train, y_train, x_test, y_test (uint8 images (N, H, W), labels 0..9).
"""
import argparse
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from ddgan.base.io import atomic_write
from ddgan.base.provenance import file_sha256
from ddgan.metrics.errors import MetricsError


def conv_block(channels_in: int, channels_out: int) -> list:
    return [nn.Conv2d(channels_in, channels_out, 3, padding=1), nn.BatchNorm2d(channels_out), nn.ReLU()]


class DigitClassifier(nn.Module):
    """Two double-conv blocks with max pooling, a 4x4 average pool, and a hidden layer whose output
    serves as digit features."""

    def __init__(self, image_size: int, width: int = 32, hidden: int = 128):
        super().__init__()
        self.config = {"image_size": image_size, "width": width, "hidden": hidden}
        self.body = nn.Sequential(
            *conv_block(1, width), *conv_block(width, width), nn.MaxPool2d(2),
            *conv_block(width, 2 * width), *conv_block(2 * width, 2 * width), nn.MaxPool2d(2),
            nn.AdaptiveAvgPool2d(4), nn.Flatten(), nn.Linear(32 * width, hidden), nn.ReLU())
        self.head = nn.Sequential(nn.Dropout(0.3), nn.Linear(hidden, 10))
        self.test_accuracy = float("nan")
        self.description = "digit classifier (not saved)"

    @property
    def image_size(self) -> int:
        return self.config["image_size"]

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


def to_classifier_input(images) -> torch.Tensor:
    """Digit images (N, H, W), uint8 in [0, 255] or float in [0, 1] -> float (N, 1, H, W) in [-1, 1]."""
    images = np.asarray(images)
    if images.ndim != 3:
        raise MetricsError(f"digit images must have shape (N, H, W); got {images.shape}")
    if images.dtype == np.uint8:
        unit = images.astype(np.float32) / 255.0
    elif images.min() >= 0.0 and images.max() <= 1.0:
        unit = images.astype(np.float32)
    else:
        raise MetricsError("digit images must be uint8 in [0, 255] or floats in [0, 1]")
    return torch.from_numpy(unit * 2.0 - 1.0)[:, None]


@torch.no_grad()
def predict(classifier: DigitClassifier, x: torch.Tensor, batch_size: int = 1000) -> np.ndarray:
    """Digit labels of inputs (N, 1, H, W) in [-1, 1]."""
    classifier.eval()
    device = next(classifier.parameters()).device
    return torch.cat([classifier(x[i:i + batch_size].to(device)).argmax(1).cpu()
                      for i in range(0, len(x), batch_size)]).numpy()


def train_digit_classifier(train_images, train_labels, test_images, test_labels, *, epochs: int = 3,
                           batch_size: int = 128, lr: float = 1e-3, width: int = 32, seed: int = 0,
                           device="cpu") -> DigitClassifier:
    """Train with Adam (cosine-decayed learning rate) and cross-entropy; the returned classifier carries
    its accuracy on the test set."""
    x, y = to_classifier_input(train_images), torch.as_tensor(np.asarray(train_labels), dtype=torch.long)
    if x.shape[-1] != x.shape[-2]:
        raise MetricsError(f"digit images must be square; got {tuple(x.shape[-2:])}")
    torch.manual_seed(seed)
    classifier = DigitClassifier(x.shape[-1], width=width).to(device)
    optimizer = torch.optim.Adam(classifier.parameters(), lr=lr)
    steps_per_epoch = -(-len(x) // batch_size)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs * steps_per_epoch)
    order = torch.Generator().manual_seed(seed)
    for epoch in range(epochs):
        classifier.train()
        for batch in tqdm(torch.randperm(len(x), generator=order).split(batch_size), desc=f"digits epoch {epoch + 1}"):
            loss = nn.functional.cross_entropy(classifier(x[batch].to(device)), y[batch].to(device))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
    predicted = predict(classifier, to_classifier_input(test_images))
    classifier.test_accuracy = float(np.mean(predicted == np.asarray(test_labels)))
    return classifier


def save_digit_classifier(classifier: DigitClassifier, path) -> None:
    torch.save({"config": classifier.config, "state_dict": classifier.state_dict(),
                "test_accuracy": classifier.test_accuracy}, path)


def small_digits_classifier(path, epochs: int = 40, batch_size: int = 64) -> Path:
    """The classifier of scikit-learn's 8x8 digits (ddgan.datasets.toy's stacked digits) at `path`, trained on
    their training split when the file is missing (seconds; the caller's torch RNG is left as it was) and saved
    atomically, so a process waiting for the file never reads half of it."""
    path = Path(path)
    if not path.is_file():
        from ddgan.datasets.toy import digits_split
        with torch.random.fork_rng(devices=[]):
            classifier = train_digit_classifier(*digits_split(), epochs=epochs, batch_size=batch_size)
        atomic_write(path, lambda file: save_digit_classifier(classifier, file), mode="wb")
    return path


def load_digit_classifier(path, device="cpu") -> DigitClassifier:
    """A saved classifier in eval mode; its .description names the file and its test accuracy."""
    if path is None or not Path(path).is_file():
        raise MetricsError(
            f"mode counting and digit features need a saved digit classifier{f' ({path} does not exist)' if path else ''}: "
            f"pass digit_classifier=PATH (--digit-classifier PATH); train one with "
            f"python -m ddgan.metrics.digit_classifier, or train_digit_classifier and save_digit_classifier")
    saved = torch.load(path, map_location="cpu", weights_only=True)
    classifier = DigitClassifier(**saved["config"])
    classifier.load_state_dict(saved["state_dict"])
    classifier.test_accuracy = saved["test_accuracy"]
    sha256 = file_sha256(path)
    classifier.description = (f"digit classifier {Path(path).name} (sha256 {sha256[:12]}, "
                              f"test accuracy {classifier.test_accuracy:.4f})")
    return classifier.eval().to(device)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Train the digit classifier used to count stacked-digit modes.")
    parser.add_argument("--npz", required=True, help="npz with x_train, y_train, x_test, y_test")
    parser.add_argument("--pad", type=int, default=0, help="zero padding on each side (2 for StackedMNIST)")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--width", type=int, default=32)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    data = np.load(args.npz)
    pad = ((0, 0), (args.pad, args.pad), (args.pad, args.pad))
    classifier = train_digit_classifier(np.pad(data["x_train"], pad), data["y_train"], np.pad(data["x_test"], pad),
                                        data["y_test"], epochs=args.epochs, width=args.width, device=args.device)
    save_digit_classifier(classifier, args.out)
    print(f"test accuracy {classifier.test_accuracy:.4f}; saved to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
