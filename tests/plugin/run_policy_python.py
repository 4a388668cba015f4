"""The plugin drives the rig inside MuJoCo's own Python bindings: lift_pot_nfp.xml (the
bundled policy as nfp.controller, the seeded set-up as nfp.task) stepped with mj_step from
mj_resetData until the task says done; the pot must be lifted, as in the C hosts.

usage: run_policy_python.py PLUGIN.so ASSET_DIR MUJOCO_VERSION
Exit 77 (skipped) when `mujoco` is not importable or is another version than nfp's.
"""
import math
import os
import sys

from mujoco_python import import_mujoco


def main():
    plugin, assets, version = sys.argv[1:4]
    mujoco = import_mujoco(version)
    if mujoco is None:
        return 77
    mujoco.mj_loadPluginLibrary(plugin)
    model = mujoco.MjModel.from_xml_path(os.path.join(assets, "lift_pot_nfp.xml"))
    data = mujoco.MjData(model)
    mujoco.mj_resetData(model, data)  # nfp.task sets the scene up for its seed here
    names = ["success", "control_steps", "done", "loglik", "held"]
    read = lambda: dict(zip(names, data.sensordata[: len(names)]))
    limit = 60 * 400  # physics steps: well past the task's step cap
    for _ in range(limit):
        mujoco.mj_step(model, data)
        if read()["done"] > 0:
            break
    s = read()
    print(f"done {s['done']:.0f} after {s['control_steps']:.0f} control steps, "
          f"success {s['success']:.0f}, last chunk log p {s['loglik']:.1f}")
    if s["done"] <= 0 or not math.isfinite(s["loglik"]) or s["loglik"] == 0.0:
        print("FAIL: the policy did not run the episode to its end")
        return 1
    return 0 if s["success"] > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
