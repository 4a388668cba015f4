"""Episodes in the ALOHA / ACT layout, written with h5py as ACT's record_sim_episodes.py does,
for test_app_aloha.c. Usage: aloha_episodes.py DIR. Exit 77 when h5py is missing.

DIR/aloha_sim/episode_{0,1,2}.hdf5: good episodes (T frames, cameras cam_high and
  cam_left_wrist of H x W), values the C test recomputes:
    qpos[t, j] = 100 e + t + j / 16, qvel = -qpos, action = qpos + 0.5   (exact in float32)
    cam_high[t, y, x, c] = (t + 2 y + 3 x + 50 c) % 256, cam_left_wrist = 255 - cam_high
DIR/broken/<name>.hdf5: one flaw each (see BROKEN).
"""
import os
import sys

try:
    import h5py
    import numpy as np
except ImportError as e:  # the test skips
    print(f"aloha_episodes.py: {e}", file=sys.stderr)
    sys.exit(77)

T, H, W, NQ = 40, 48, 64, 14
CAMERAS = ["cam_high", "cam_left_wrist"]


def joints(e, frames=T, width=NQ):
    t = np.arange(frames, dtype=np.float64)[:, None]
    j = np.arange(width, dtype=np.float64)[None, :]
    return 100.0 * e + t + j / 16.0


def frames(camera, n=T):
    t, y, x, c = np.ogrid[:n, :H, :W, :3]
    img = ((t + 2 * y + 3 * x + 50 * c) % 256).astype(np.uint8)
    return img if camera == "cam_high" else 255 - img


def write(path, e, drop=(), qpos_width=NQ, action_frames=T, compress=False):
    """One episode as ACT writes it (h5py's default float32 joints, one chunk per frame)."""
    with h5py.File(path, "w", rdcc_nbytes=1024 ** 2 * 2) as root:
        root.attrs["sim"] = True
        if compress:
            root.attrs["compress"] = True
        obs = root.create_group("observations")
        image = obs.create_group("images")
        for cam in CAMERAS:
            if compress:  # JPEG bytes padded to the longest frame, as ALOHA's recorder
                image.create_dataset(cam, (T, 1000), dtype="uint8", chunks=(1, 1000))
            else:
                image.create_dataset(cam, (T, H, W, 3), dtype="uint8", chunks=(1, H, W, 3))
                image[cam][...] = frames(cam)
        if compress:
            root.create_dataset("compress_len", (len(CAMERAS), T))
        q = joints(e, width=qpos_width)
        data = {"/observations/qpos": q, "/observations/qvel": -q,
                "/action": joints(e, frames=action_frames) + 0.5}
        for name, value in data.items():
            if name in drop:
                continue
            root.create_dataset(name, value.shape)
            root[name][...] = value


BROKEN = {
    "no_action": dict(drop=("/action",)),
    "no_qvel": dict(drop=("/observations/qvel",)),
    "short_action": dict(action_frames=T - 1),
    "narrow_qpos": dict(qpos_width=7),
    "compressed": dict(compress=True),
}


def main():
    out = sys.argv[1]
    good = os.path.join(out, "aloha_sim")
    broken = os.path.join(out, "broken")
    os.makedirs(good, exist_ok=True)
    os.makedirs(broken, exist_ok=True)
    for e in range(3):
        write(os.path.join(good, f"episode_{e}.hdf5"), e)
    for name, flaw in BROKEN.items():
        write(os.path.join(broken, f"{name}.hdf5"), 0, **flaw)
    with h5py.File(os.path.join(broken, "nothing.hdf5"), "w") as root:
        root.attrs["sim"] = True
        root.create_dataset("action", (T, NQ))


if __name__ == "__main__":
    main()
