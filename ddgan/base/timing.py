"""Wall-clock seconds of work on a device: queued CUDA work is finished before and after the call, so
the time is that of the work itself."""
import time


def synchronize(device) -> None:
    import torch     # here, so that the base layer imports without torch
    device = torch.device(device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_once(fn, device="cpu") -> float:
    """Wall-clock seconds of fn(), with the device's queued work finished before and after."""
    synchronize(device)
    start = time.perf_counter()
    fn()
    synchronize(device)
    return time.perf_counter() - start
