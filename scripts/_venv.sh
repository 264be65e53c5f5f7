# Shared by scripts/serve and scripts/test: create .venv when missing, (re)install when pyproject changed.
ensure_venv() {
  local extras="$1"
  local stamp=".venv/.installed${extras:+-$extras}"
  if [ ! -x .venv/bin/python ]; then
    echo "Creating .venv …"
    python3 -m venv .venv
    .venv/bin/python -m pip install --quiet --upgrade pip
  fi
  if [ ! -e "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    echo "Installing the portal${extras:+ with [$extras]} into .venv …"
    .venv/bin/python -m pip install --quiet -e ".${extras:+[$extras]}"
    touch "$stamp"
  fi
}
