# Environment for running rt2_ros from this checkout; sourced by scripts/test and scripts/demo
# (and by hand: `source scripts/env.sh`).
_RT2_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# Offscreen MuJoCo rendering without a display.
export MUJOCO_GL=${MUJOCO_GL:-egl}
# Robot models: a local copy of mujoco_menagerie when one sits beside the checkout (no network
# here); otherwise the mujoco-menagerie package fetches them on first use.
if [ -z "${MENAGERIE_ROOT:-}" ] && [ -d "$_RT2_ROOT/../shared/menagerie" ]; then
  export MENAGERIE_ROOT=$(cd "$_RT2_ROOT/../shared/menagerie" && pwd)
fi
unset _RT2_ROOT
# Models are built locally; never reach for a hub in tests or the demo.
export HF_HUB_OFFLINE=${HF_HUB_OFFLINE:-1}
