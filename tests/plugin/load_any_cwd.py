"""The Python bindings load the plugin library and every assets/*.xml from another cwd.

usage: load_any_cwd.py PLUGIN.so ASSET_DIR MUJOCO_VERSION
Exit 77 (skipped) when `mujoco` is not importable or is not the version nfp was built
against (the plugin registers with the libmujoco it links). Not a run-time dependency.
"""
import glob
import os
import sys

from mujoco_python import import_mujoco
import tempfile


def main():
    plugin, assets, version = sys.argv[1:4]
    mujoco = import_mujoco(version)
    if mujoco is None:
        return 77
    mujoco.mj_loadPluginLibrary(plugin)
    parent, base = os.path.split(os.path.abspath(assets))
    files = sorted(glob.glob(os.path.join(assets, "*.xml")))
    with tempfile.TemporaryDirectory() as tmp:
        for path in files:
            name = os.path.basename(path)
            for cwd, arg in ((tmp, os.path.abspath(path)), (parent, os.path.join(base, name)),
                             (tmp, os.path.relpath(path, tmp))):
                os.chdir(cwd)
                model = mujoco.MjModel.from_xml_path(arg)
                print(f"{arg} from {cwd}: {model.nbody} bodies, {model.nu} actuators")
    return 0 if files else 1


if __name__ == "__main__":
    sys.exit(main())
