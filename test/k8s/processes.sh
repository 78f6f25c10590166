# Sourced by test/k8s/cluster.sh and node.sh: the servers they leave running, each in a session
# of its own (setsid) with its pid in DIR/NAME.pid. Needs node (free ports).

free_port() {
  node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

# pid_alive DIR NAME
pid_alive() { [[ -f "$1/$2.pid" ]] && kill -0 "$(cat "$1/$2.pid")" 2>/dev/null; }

# spawn DIR NAME COMMAND...: started in a session of its own, output in DIR/NAME.log;
# 9>&-: the caller's lock stays with the caller, not with the server it leaves running.
spawn() {
  local dir=$1 name=$2; shift 2
  setsid "$@" >"$dir/$name.log" 2>&1 </dev/null 9>&- &
  echo $! >"$dir/$name.pid"
}

# stop_pids DIR NAME...: in that order, SIGTERM to each one's process group, up to 10 s, then
# SIGKILL to the group.
stop_pids() {
  local dir=$1 name pid; shift
  for name in "$@"; do
    [[ -f "$dir/$name.pid" ]] || continue
    pid=$(cat "$dir/$name.pid")
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$pid" 2>/dev/null || true
    rm -f "$dir/$name.pid"
  done
}
