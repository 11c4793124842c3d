# Source it (`. tools/test_machine.sh`) before the test command to run the whole
# matrix as CI does: it shows tox every Python 3.11-3.13 that pyenv holds, fails
# when one is missing, and installs Debian's Chromium and Firefox ESR for the
# dashboard's browser tests (without one, its tests skip and say why; apt-get
# needs root).

# pyenv installs several Pythons but shows one: let tox find 3.11-3.13.
if command -v pyenv >/dev/null 2>&1; then
    PYENV_VERSION="$(pyenv versions --bare | grep -E '^3\.1[123]\.[0-9]+$' | sort -V | tr '\n' ':' | sed 's/:$//')"
    export PYENV_VERSION
fi

missing=""
for python in python3.11 python3.12 python3.13; do
    "$python" -c "" >/dev/null 2>&1 || missing="$missing $python"
done

browsers=""
command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1 || browsers=" chromium chromium-driver"
command -v firefox-esr >/dev/null 2>&1 || browsers="$browsers firefox-esr"
if command -v apt-get >/dev/null 2>&1 && [ -n "$browsers" ]; then
    # shellcheck disable=SC2086  # one word per package
    { apt-get update -qq && apt-get install -y -qq --no-install-recommends $browsers >/dev/null; } \
        || echo "warning: could not install$browsers; the dashboard browser tests will skip there" >&2
fi

if [ -n "$missing" ]; then
    echo "error: the whole matrix needs Python 3.11, 3.12 and 3.13; missing:$missing" >&2
    return 1 2>/dev/null || exit 1
fi
