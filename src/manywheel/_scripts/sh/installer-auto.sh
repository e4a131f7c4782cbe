mw_pip_cfg=
for mw_f in "${PIP_CONFIG_FILE:-}" __PIP_CONFIG_FILES__; do
  if [ -n "$mw_f" ] && [ -f "$mw_f" ]; then mw_pip_cfg=$mw_f; break; fi
done
if ! mw_uv=$(command -v uv 2>/dev/null); then
  mw_installer=pip mw_why='auto: the image has no uv on PATH'
elif [ -n "${mw_pip_env% }" ]; then
  mw_installer=pip mw_why="auto: pip is configured by ${mw_pip_env% }"
elif [ -n "$mw_pip_cfg" ]; then
  mw_installer=pip mw_why="auto: pip is configured by $mw_pip_cfg"
else
  mw_installer=uv mw_why="auto: found $mw_uv"
fi
