# Helpers the benchmark scripts share (sourced). They expect `$work`, the run's
# scratch folder, where servers write their logs.

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# wait_ready URL PID: until URL/health answers. Fails, showing the servers' logs, when
# the process died during start; and, one second after the first answer, when it
# died then (it lost its port to another server).
wait_ready() {
  for _ in $(seq 1 300); do
    if ! kill -0 "$2" 2>/dev/null; then
      echo "server for $1 exited during start" >&2
      cat "$work"/*.log >&2 2>/dev/null || true
      return 1
    fi
    curl -fsS "$1/health" >/dev/null 2>&1 && sleep 1 && kill -0 "$2" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "server at $1 not ready after 30 s" >&2
  return 1
}
