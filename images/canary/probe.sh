# Carapace canary probe. Runs inside the canary container as
#   /bin/busybox sh /canary/probe.sh [--connect IPV4:PORT] [--sentinel NAME]
# and prints exactly one line per probe, in this order (see README.md for the grammar):
#   write refused            | write allowed DIR[,DIR...]
#   network refused          | network allowed REASON[,REASON...] | network unknown REASON
#   env clean                | env leaked NAME[,NAME...] [sentinel=NAME]
# Anything else, or a missing line, means the property could not be shown, and the host-side
# parser treats it as not enforced. The script never connects anywhere but --connect's address.

BB=/bin/busybox
# Variables the runtime itself sets; none of them carry host data.
RUNTIME_ENV='PATH HOSTNAME HOME container TERM'

connect=''
sentinel=''

usage() {
  echo "usage: probe.sh [--connect IPV4:PORT] [--sentinel NAME]" >&2
  exit 2
}

while [ $# -gt 0 ]; do
  case "$1" in
    --connect) [ $# -ge 2 ] || usage; connect=$2; shift 2 ;;
    --sentinel) [ $# -ge 2 ] || usage; sentinel=$2; shift 2 ;;
    *) usage ;;
  esac
done

host=${connect%:*}
port=${connect##*:}
if [ -n "$connect" ]; then
  # Only a literal IPv4 address and port: no names to resolve, no options smuggled into nc.
  case "$host" in '' | *[!0-9.]*) usage ;; esac
  case "$port" in '' | *[!0-9]*) usage ;; esac
fi
case "$sentinel" in *[!A-Za-z0-9_]*) usage ;; esac

# Appends $2 to the comma list $1 unless it is already there.
add_item() {
  case ",$1," in
    *",$2,"*) printf '%s' "$1" ;;
    *) printf '%s' "${1:+$1,}$2" ;;
  esac
}

probe_write() {
  allowed=''
  # /canary/writable is world-writable in the image, so a writable root filesystem shows up
  # even for the unprivileged user, who cannot write the root-owned directories.
  for dir in / /etc /usr /bin /canary/writable; do
    file="${dir%/}/.carapace-canary-$$"
    # The subshell matters: a failed redirection on `:` would end a non-interactive shell.
    if (: > "$file") 2>/dev/null; then
      $BB rm -f "$file"
      allowed=$(add_item "$allowed" "$dir")
    fi
  done
  if [ -n "$allowed" ]; then echo "write allowed $allowed"; else echo "write refused"; fi
}

probe_network() {
  reasons=''
  listed=no
  for path in /sys/class/net/*; do
    [ -e "$path" ] || continue
    listed=yes
    name=${path##*/}
    [ "$name" = lo ] || reasons=$(add_item "$reasons" "interface:$name")
  done
  # /proc/net/dev always shows this process's own network namespace, even if /sys was bind-mounted
  # from somewhere else.
  if [ -r /proc/net/dev ]; then
    while IFS= read -r line; do
      case "$line" in *:*) ;; *) continue ;; esac
      name=${line%%:*}
      name=${name##* }
      [ -n "$name" ] || continue
      listed=yes
      [ "$name" = lo ] || reasons=$(add_item "$reasons" "interface:$name")
    done < /proc/net/dev
  fi
  # -e runs `true` the moment the connection is up, so a peer that never closes cannot hang us;
  # -w bounds the connect itself.
  if [ -n "$connect" ] && $BB nc -w 2 "$host" "$port" -e $BB true > /dev/null 2>&1; then
    reasons=$(add_item "$reasons" "connect:$connect")
  fi
  if [ -n "$reasons" ]; then
    echo "network allowed $reasons"
  elif [ "$listed" = no ]; then
    echo "network unknown no-interface-list"
  else
    echo "network refused"
  fi
}

# Names from the initial environment of PID 1 and of this shell (exact, NUL-separated), and from
# `env`, minus the variables the shell sets itself.
environment_names() {
  for source in /proc/1/environ "/proc/$$/environ"; do
    [ -r "$source" ] && $BB tr '\0' '\n' < "$source" | $BB sed -n 's/^\([A-Za-z_][A-Za-z0-9_]*\)=.*/\1/p'
  done
  $BB env | $BB sed -n 's/^\([A-Za-z_][A-Za-z0-9_]*\)=.*/\1/p' | $BB grep -v -x -e SHLVL -e PWD -e OLDPWD
}

probe_env() {
  leaked=''
  seen_sentinel=no
  for name in $(environment_names | $BB sort -u); do
    [ "$name" = "$sentinel" ] && seen_sentinel=yes
    case " $RUNTIME_ENV " in
      *" $name "*) [ "$name" = "$sentinel" ] || continue ;;
    esac
    leaked=$(add_item "$leaked" "$name")
  done
  if [ -z "$leaked" ]; then
    echo "env clean"
  elif [ "$seen_sentinel" = yes ]; then
    echo "env leaked $leaked sentinel=$sentinel"
  else
    echo "env leaked $leaked"
  fi
}

probe_write
probe_network
probe_env
