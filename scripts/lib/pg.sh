# PostgreSQL cluster management for scripts/run, scripts/test and scripts/bench.
# A private cluster per checkout: 127.0.0.1 only, its own port, trust auth on loopback.
# initdb/postgres refuse to run as root, so as root they run as the `postgres` user, in a
# directory that user owns under /var/tmp (linked from the checkout's var/).

PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}

pg_as_owner() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# pg_cluster_dir NAME -> a directory the cluster owner can write, unique per checkout.
pg_cluster_dir() {
  local name=$1 root tag
  root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
  tag=$(printf '%s' "$root" | sha1sum | cut -c1-10)
  echo "/var/tmp/coachd-${tag}-${name}"
}

# pg_init DIR PORT: initdb when DIR has no cluster yet.
pg_init() {
  local dir=$1 port=$2
  if [ -f "$dir/PG_VERSION" ]; then return 0; fi
  mkdir -p "$dir"
  if [ "$(id -u)" -eq 0 ]; then chown postgres:postgres "$dir"; fi
  chmod 700 "$dir"
  pg_as_owner "$PG_BIN/initdb" -D "$dir" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >"$dir.initdb.log" 2>&1 \
    || { cat "$dir.initdb.log"; return 1; }
  cat >>"$dir/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir'
max_connections = 300
shared_buffers = 256MB
wal_buffers = 16MB
max_wal_size = 2GB
fsync = on
synchronous_commit = on
log_min_messages = warning
CONF
}

# glibc's malloc settings for the server. By default each backend hands memory above 128 KiB at
# the top of its heap back to the kernel when a statement frees it (brk), and takes it back with
# page faults in the next statement; shrinking the heap flushes the TLB of every CPU the process
# ran on (an inter-processor interrupt, dear in a virtual machine). The log's append statement
# (hash joins over the unnested batch) did that on every commit: about a third of its backend's
# CPU at 1,000 bookings/s. Keeping up to 64 MiB free per backend, and serving allocations up to
# 32 MiB from the heap rather than mmap, costs memory only while it is in use.
PG_MALLOC_TUNABLES=glibc.malloc.trim_threshold=67108864:glibc.malloc.mmap_threshold=33554432

# pg_start DIR PORT: start the cluster if it is not running; waits until it accepts connections.
pg_start() {
  local dir=$1 port=$2
  if pg_as_owner "$PG_BIN/pg_ctl" -D "$dir" status >/dev/null 2>&1; then return 0; fi
  GLIBC_TUNABLES=$PG_MALLOC_TUNABLES pg_as_owner "$PG_BIN/pg_ctl" -D "$dir" -l "$dir/server.log" -o "-p $port" -w -t 60 start >/dev/null \
    || { tail -n 30 "$dir/server.log"; return 1; }
}

pg_stop() {
  local dir=$1
  if [ -f "$dir/PG_VERSION" ]; then
    pg_as_owner "$PG_BIN/pg_ctl" -D "$dir" -m fast -w stop >/dev/null 2>&1 || true
  fi
}

# pg_free_port START: the first port from START on that nothing listens on. Callers start below
# the kernel's ephemeral range (32768-60999 on Linux): a port inside it can be taken at any
# moment as the local end of an outgoing connection (a load run opens thousands), and then a
# server cannot bind it even though nothing listens there.
pg_free_port() {
  local p=$1
  while (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; do p=$((p + 1)); done
  echo "$p"
}
