#!/usr/bin/env bash
# The Debian package on this machine:
#   deb_test.sh SOURCE_DIR BUILD_DIR
# builds llmd_<version>_<arch>.deb from BUILD_DIR (scripts/package.sh), checks
# its files, control fields and lintian (no errors), installs it with dpkg,
# checks what postinst made (user, directories, certificate), runs
# check-config on the installed config, starts llmd as user llmd and gets 200
# from /readyz over TLS, makes the first admin key the way postinst says,
# reinstalls over an edited conffile (kept), verifies the unit and prints its
# systemd-analyze security exposure (at most 2.0), and purges the package.
# Whatever it made that was not there before (user, /var/lib/llmd) is removed.
# Exit 77 (skip) without root or dpkg, unless CI is set: then that fails.
set -euo pipefail

src=$1
build=$2
max_exposure=2.0

skip() {
  if [ "${CI:-}" = true ]; then
    echo "FAIL (CI): $*" >&2
    exit 1
  fi
  echo "SKIP: $*" >&2
  exit 77
}
fail() {
  echo "FAIL: $*" >&2
  exit 1
}

[ "$(id -u)" -eq 0 ] || skip "needs root: it installs the package into this machine"
for tool in dpkg dpkg-deb dpkg-shlibdeps cpack lintian openssl curl setpriv flock systemd-analyze python3; do
  command -v "$tool" >/dev/null 2>&1 || skip "$tool is missing (scripts/setup.sh installs it)"
done

# One run per machine at a time (other build trees may run it too).
mkdir -p /run/lock
exec 9> /run/lock/llmd-package-test.lock
flock -w 900 9 || fail "another run of this test holds /run/lock/llmd-package-test.lock"

work=$(mktemp -d /tmp/llmd-deb-test.XXXXXX)
chmod 0755 "$work"
marker=/var/lib/llmd-package-test.state
server_pid=""

# What existed before the first install of this test (kept across a run that
# was killed, so that the next run still cleans up).
if [ -f "$marker" ]; then
  # shellcheck disable=SC1090
  . "$marker"
else
  if dpkg-query -W -f='${db:Status-Status}' llmd 2>/dev/null | grep -qx installed; then
    skip "a package llmd is installed on this machine; the test would replace it"
  fi
  had_user=0; getent passwd llmd >/dev/null && had_user=1
  had_group=0; getent group llmd >/dev/null && had_group=1
  had_render=0; getent group render >/dev/null && had_render=1
  had_state=0; [ -e /var/lib/llmd ] && had_state=1
  printf 'had_user=%s\nhad_group=%s\nhad_render=%s\nhad_state=%s\n' \
    "$had_user" "$had_group" "$had_render" "$had_state" > "$marker"
fi

cleanup() {
  status=$?
  if [ -n "$server_pid" ]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  if dpkg-query -W -f='${db:Status-Status}' llmd 2>/dev/null | grep -qvx not-installed; then
    dpkg --purge llmd >/dev/null 2>&1 || echo "cleanup: dpkg --purge llmd failed" >&2
  fi
  [ "$had_state" = 1 ] || rm -rf /var/lib/llmd
  if [ "$had_user" = 0 ] && getent passwd llmd >/dev/null; then userdel llmd || true; fi
  if [ "$had_group" = 0 ] && getent group llmd >/dev/null; then groupdel llmd || true; fi
  if [ "$had_render" = 0 ] && getent group render >/dev/null; then groupdel render || true; fi
  rm -f "$marker"
  rm -rf "$work"
  exit "$status"
}
trap cleanup EXIT

echo "== build the package"
deb=$("$src/scripts/package.sh" "$build" "$work/out" | tail -n 1)
[ -f "$deb" ] || fail "scripts/package.sh made no package"
version=$(dpkg-deb -f "$deb" Version)
arch=$(dpkg-deb -f "$deb" Architecture)
[ "$(basename "$deb")" = "llmd_${version}_${arch}.deb" ] || fail "unexpected file name $(basename "$deb")"
echo "$deb"

echo "== contents"
dpkg-deb -c "$deb" | awk '{ print $1, $2, $6 }' > "$work/contents"
cat "$work/contents"
expect_file() {  # MODE PATH
  grep -qx -- "$1 root/root ./${2#/}" "$work/contents" || fail "the package lacks $2 with mode $1"
}
expect_file -rwxr-xr-x /usr/bin/llmd
expect_file -rwxr-xr-x /usr/bin/llmctl
expect_file -rw-r--r-- /usr/lib/systemd/system/llmd.service
expect_file -rw-r--r-- /usr/lib/systemd/system/llmd.socket
expect_file -rw-r--r-- /etc/llmd/llmd.toml
expect_file -rw-r--r-- /usr/lib/sysusers.d/llmd.conf
expect_file -rw-r--r-- /usr/lib/tmpfiles.d/llmd.conf
expect_file -rw-r--r-- /usr/share/doc/llmd/copyright
expect_file -rw-r--r-- /usr/share/doc/llmd/changelog.gz
expect_file -rw-r--r-- /usr/share/man/man8/llmd.8.gz
expect_file -rw-r--r-- /usr/share/man/man1/llmctl.1.gz
dpkg-deb --ctrl-tarfile "$deb" | tar -t > "$work/control"
for f in ./postinst ./prerm ./postrm ./conffiles ./md5sums; do
  grep -qx -- "$f" "$work/control" || fail "the control archive lacks $f"
done
[ "$(dpkg-deb -I "$deb" conffiles)" = /etc/llmd/llmd.toml ] || fail "conffiles is not /etc/llmd/llmd.toml"
depends=$(dpkg-deb -f "$deb" Depends)
echo "Depends: $depends"
for lib in libc6 libssl3 libsqlite3-0 libsystemd0 libstdc++6 openssl; do
  printf '%s\n' "$depends" | tr ',' '\n' | sed 's/^ *//; s/ .*//' | grep -qxF "$lib" || fail "Depends lacks $lib"
done

echo "== lintian"
lint_status=0
lintian --fail-on error "$deb" > "$work/lintian" 2>&1 || lint_status=$?
grep -v "running with root privileges" "$work/lintian" || true
[ "$lint_status" -eq 0 ] && ! grep -q '^E: ' "$work/lintian" || fail "lintian reports errors"

echo "== install"
export DEBIAN_FRONTEND=noninteractive
dpkg -i "$deb" < /dev/null > "$work/install" 2>&1 || { cat "$work/install" >&2; fail "dpkg -i failed"; }
cat "$work/install"
grep -q "runuser -u llmd -- llmd bootstrap-admin --config /etc/llmd/llmd.toml" "$work/install" ||
  fail "postinst does not say how to make the first admin key"
getent passwd llmd | grep -q ':/var/lib/llmd:/usr/sbin/nologin$' || fail "no system user llmd: $(getent passwd llmd)"
[ "$(id -u llmd)" -lt 1000 ] || fail "llmd is not a system user (uid $(id -u llmd))"
id -nG llmd | tr ' ' '\n' | grep -qx video || fail "llmd is not in group video: $(id -nG llmd)"
[ "$(stat -c '%a %U %G' /var/lib/llmd)" = "700 llmd llmd" ] || fail "/var/lib/llmd: $(stat -c '%a %U %G' /var/lib/llmd)"
[ "$(stat -c '%a %U' /etc/llmd/tls/key.pem)" = "600 llmd" ] || fail "key.pem: $(stat -c '%a %U' /etc/llmd/tls/key.pem)"
openssl x509 -in /etc/llmd/tls/cert.pem -noout -ext subjectAltName | grep -q "IP Address:127.0.0.1" ||
  fail "the certificate does not name 127.0.0.1"
dpkg-query -W -f='${Conffiles}\n' llmd | grep -q "^ /etc/llmd/llmd.toml " || fail "llmd.toml is not a conffile"

missing_libs=$(ldd /usr/bin/llmd | grep "not found" || true)
[ -z "$missing_libs" ] || fail "the installed llmd lacks libraries (a CUDA build needs the CUDA runtime in the loader's path, /etc/ld.so.conf.d): $missing_libs"

echo "== check-config"
/usr/bin/llmd check-config --config /etc/llmd/llmd.toml || fail "check-config rejects the installed config"

echo "== serve as user llmd"
config=/etc/llmd/llmd.toml
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
port=8443
if port_busy 8443 || port_busy 9464; then
  # Another llmd on this machine holds the packaged ports: the installed
  # config with two free ones instead.
  read -r port metrics_port < <(python3 -c '
import socket
s=[socket.socket() for _ in range(2)]
for x in s: x.bind(("127.0.0.1", 0))
print(*[x.getsockname()[1] for x in s])')
  sed -e "s/^port = 8443$/port = $port/" -e "s/^port = 9464$/port = $metrics_port/" /etc/llmd/llmd.toml > "$work/llmd.toml"
  chmod 0644 "$work/llmd.toml"
  config=$work/llmd.toml
  echo "ports 8443/9464 are busy here: serving on $port (metrics $metrics_port)"
fi
as_llmd=(setpriv --reuid=llmd --regid=llmd --init-groups --)
"${as_llmd[@]}" /usr/bin/llmd serve --config "$config" > "$work/serve.log" 2>&1 &
server_pid=$!
url=https://127.0.0.1:$port
code=000
for _ in $(seq 1 120); do
  code=$(curl -sS -o /dev/null -w '%{http_code}' --cacert /etc/llmd/tls/cert.pem "$url/readyz" 2>/dev/null || true)
  [ "$code" = 200 ] && break
  kill -0 "$server_pid" 2>/dev/null || break
  sleep 0.5
done
[ "$code" = 200 ] || { cat "$work/serve.log" >&2; fail "/readyz answered $code"; }
echo "/readyz: 200 over TLS, verified against /etc/llmd/tls/cert.pem"

# The first admin key, as postinst says, while llmd runs; then llmctl with it.
admin_key=$("${as_llmd[@]}" /usr/bin/llmd bootstrap-admin --config "$config")
[ -n "$admin_key" ] || fail "bootstrap-admin printed no key"
LLMD_ADMIN_KEY=$admin_key LLMD_URL=$url LLMD_CACERT=/etc/llmd/tls/cert.pem /usr/bin/llmctl teams list ||
  fail "llmctl teams list with the first admin key failed"
[ -z "$(find /var/lib/llmd -mindepth 1 ! -user llmd)" ] || fail "files in /var/lib/llmd not owned by llmd"

kill -TERM "$server_pid"
wait "$server_pid" || fail "llmd exited with status $? on SIGTERM"
server_pid=""

echo "== reinstall over an edited conffile"
echo "# edited by the admin" >> /etc/llmd/llmd.toml
cert_sum=$(sha256sum < /etc/llmd/tls/cert.pem)
dpkg -i "$deb" < /dev/null > "$work/reinstall" 2>&1 || { cat "$work/reinstall" >&2; fail "reinstall failed"; }
grep -q "^# edited by the admin$" /etc/llmd/llmd.toml || fail "the admin's edit of llmd.toml was lost"
[ "$(sha256sum < /etc/llmd/tls/cert.pem)" = "$cert_sum" ] || fail "the certificate was replaced on upgrade"

echo "== the unit"
unit=/usr/lib/systemd/system/llmd.service
verify=$(systemd-analyze verify --man=no "$unit" 2>&1) || fail "systemd-analyze verify: $verify"
[ -z "$verify" ] || fail "systemd-analyze verify has remarks: $verify"
verify=$(systemd-analyze verify --man=no /usr/lib/systemd/system/llmd.socket 2>&1) ||
  fail "systemd-analyze verify llmd.socket: $verify"
[ -z "$verify" ] || fail "systemd-analyze verify llmd.socket has remarks: $verify"
security=$(systemd-analyze security --offline=true --no-pager "$unit" 2>&1) || true
exposure=$(printf '%s\n' "$security" | sed -n 's/.*Overall exposure level for llmd.service: \([0-9.]*\).*/\1/p')
[ -n "$exposure" ] || { printf '%s\n' "$security" >&2; fail "systemd-analyze security printed no exposure"; }
echo "systemd-analyze security exposure: $exposure (at most $max_exposure)"
awk -v e="$exposure" -v m="$max_exposure" 'BEGIN { exit !(e <= m) }' ||
  { printf '%s\n' "$security" >&2; fail "exposure $exposure is above $max_exposure"; }

echo "== purge"
dpkg --purge llmd < /dev/null > "$work/purge" 2>&1 || { cat "$work/purge" >&2; fail "dpkg --purge failed"; }
[ ! -e /usr/bin/llmd ] && [ ! -e "$unit" ] && [ ! -e /etc/llmd/llmd.toml ] || fail "files left after purge"
[ ! -e /etc/llmd/tls/key.pem ] || fail "the self-signed key was left after purge"
[ -d /var/lib/llmd ] || fail "purge removed the database directory"
echo "PASS"
