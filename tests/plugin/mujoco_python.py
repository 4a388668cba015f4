"""MuJoCo's Python bindings of the version nfp was built with, or a reason to skip."""


def import_mujoco(version):
    """The `mujoco` module, or None after saying why the test is skipped (exit 77)."""
    try:
        import mujoco
    except ImportError:
        print("skipped: Python module 'mujoco' not importable")
        return None
    if mujoco.__version__ != version:
        print(f"skipped: Python mujoco {mujoco.__version__}, nfp built with {version}")
        return None
    return mujoco
