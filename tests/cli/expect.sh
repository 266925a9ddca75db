# Sourced by the CLI tests: `expect NAME EXIT_CODE PATTERN -- command...` runs the command and counts a pass
# when it exits with EXIT_CODE and its output (stdout and stderr) matches the extended regex PATTERN;
# `finish LABEL` prints the counts and returns non-zero when anything failed.
passed=0 failed=0

expect() {
  local name=$1 code=$2 pattern=$3
  shift 4
  local out rc
  out=$("$@" 2>&1); rc=$?
  if [ "$rc" -eq "$code" ] && grep -Eq -- "$pattern" <<<"$out"; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    printf 'FAIL %s: exit %s (want %s), pattern /%s/\n%s\n' "$name" "$rc" "$code" "$pattern" "$out" | head -40
  fi
}

finish() {
  echo "$1$passed passed, $failed failed"
  [ "$failed" -eq 0 ]
}
