"""The units and the Debian package on a real systemd (no Socket.IO client needed)."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from conftest import SERVICES, UNITS, Appliance, build_variant, port_is_free
from container import wait_for

HASH_DEFAULT = ("cd /var/lib/robotctl/projects/default && find . -type f ! -path '*/__pycache__/*'"
                " -print0 | LC_ALL=C sort -z | xargs -0r sha256sum | sha256sum | cut -d' ' -f1")


@pytest.mark.parametrize("unit", SERVICES)
def test_service_is_notify_with_watchdog_as_robotctl(container: Appliance, unit: str) -> None:
    props = {name: container.prop(unit, name) for name in
             ("ActiveState", "SubState", "Type", "NotifyAccess", "WatchdogUSec", "User",
              "Group", "UnitFileState")}
    assert props == {"ActiveState": "active", "SubState": "running", "Type": "notify",
                     "NotifyAccess": "main", "WatchdogUSec": "10s", "User": "robotctl",
                     "Group": "robotctl", "UnitFileState": "enabled"}
    process = container.sh(f"ps -o user= -p {container.main_pid(unit)}").strip()
    assert process == "robotctl"


def test_target_groups_the_services(container: Appliance) -> None:
    assert container.prop("robotctl.target", "ActiveState") == "active"
    assert container.prop("robotctl.target", "UnitFileState") == "enabled"
    wants = container.prop("robotctl.target", "Wants").split()
    assert {f"{unit}.service" for unit in SERVICES} <= set(wants)
    for unit in SERVICES:
        assert "robotctl.target" in container.prop(unit, "PartOf").split()


def test_executor_restarts_at_once_without_start_limit(container: Appliance) -> None:
    unit = "robotctl-executor"
    assert container.prop(unit, "Restart") == "always"
    assert container.prop(unit, "RestartUSec") == "100ms"
    assert container.prop(unit, "StartLimitIntervalUSec") == "0"
    # Manual restarts count toward the start limit too: 20 of them, well past the default
    # 5 in 10 s, must leave the executor running.
    for _ in range(20):
        container.run(["systemctl", "restart", unit])
    assert container.prop(unit, "ActiveState") == "active"
    assert container.prop(unit, "Result") == "success"


def test_killed_executor_is_restarted_and_its_exit_recorded(container: Appliance) -> None:
    before = container.main_pid()
    restarts = int(container.prop("robotctl-executor", "NRestarts"))
    container.run(["systemctl", "kill", "--signal=KILL", "robotctl-executor"])
    wait_for(lambda: int(container.prop("robotctl-executor", "NRestarts")) > restarts, 30,
             "an automatic restart")
    container.wait_active(["robotctl-executor"])
    assert container.main_pid() != before
    # The hook ran (the new executor consumes its record at start-up).
    hook = container.prop("robotctl-executor", "ExecStopPost")
    assert "argv[]=/usr/bin/python3 -m shared.exit_record" in hook and "status=0/0" in hook, hook


def test_record_exit_writes_one_line_atomically(container: Appliance) -> None:
    container.sh("cd /usr/lib/robotctl && setpriv --reuid=robotctl --regid=robotctl"
                 " --clear-groups env PYTHONPATH=/usr/lib/robotctl"
                 " SERVICE_RESULT=signal EXIT_CODE=killed EXIT_STATUS=KILL"
                 " python3 -m shared.exit_record --config /etc/robotctl/robotctl.yaml probe")
    line = container.read("/run/robotctl/probe-last-exit")
    assert re.fullmatch(r"SERVICE_RESULT=signal EXIT_CODE=killed EXIT_STATUS=KILL TIME=\d+\n",
                        line), line
    assert container.sh("ls /run/robotctl | grep -c '^probe-last-exit' || true") == "1\n"
    container.run(["rm", "/run/robotctl/probe-last-exit"])


def test_a_bad_config_stops_the_executor_instead_of_looping(container: Appliance) -> None:
    config = "/etc/robotctl/robotctl.yaml"
    good = container.read(config)
    container.write(config, good + "\nno_such_section: {}\n")
    try:
        container.run(["systemctl", "restart", "robotctl-executor"], check=False)
        assert container.prop("robotctl-executor", "ActiveState") == "failed"
        assert container.prop("robotctl-executor", "ExecMainStatus") == "78"
    finally:
        container.write(config, good)
        container.run(["systemctl", "restart", "robotctl-executor"])
    container.wait_active()


def test_ipc_sockets_are_private_to_robotctl(container: Appliance) -> None:
    assert container.sh("stat -c '%A %U %G' /run/robotctl").strip() == \
        "drwxr-x--- robotctl robotctl"
    for name in ("cmd.ipc", "callback.ipc"):
        assert container.sh(f"stat -c '%A %U %G' /run/robotctl/{name}").strip() == \
            "srw-rw---- robotctl robotctl"


@pytest.mark.parametrize("unit", SERVICES)
def test_socket_dir_survives_each_unit_stop_kill_restart(container: Appliance, unit: str) -> None:
    container.run(["systemctl", "stop", unit])
    assert container.sh("test -d /run/robotctl && echo kept") == "kept\n"
    container.run(["systemctl", "start", unit])
    restarts = int(container.prop(unit, "NRestarts"))
    container.run(["systemctl", "kill", "--signal=KILL", unit])
    wait_for(lambda: int(container.prop(unit, "NRestarts")) > restarts, 30, f"{unit} restarted")
    container.run(["systemctl", "restart", unit])
    container.wait_active()
    for name in ("cmd.ipc", "callback.ipc"):
        assert container.sh(f"stat -c %A /run/robotctl/{name}").strip() == "srw-rw----"


@pytest.mark.parametrize("unit", UNITS)
def test_systemd_analyze_verify(container: Appliance, unit: str) -> None:
    result = container.run(["systemd-analyze", "verify", f"/lib/systemd/system/{unit}"
                            if "." in unit else f"/lib/systemd/system/{unit}.service"],
                           check=False)
    assert (result.returncode, result.stderr.strip()) == (0, "")


def exposure(container: Appliance, unit: str) -> float:
    out = container.run(["systemd-analyze", "security", "--no-pager", unit]).stdout
    match = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", out)
    assert match, out
    return float(match.group(1))


def test_gateway_is_fully_hardened(container: Appliance) -> None:
    assert exposure(container, "robotctl-gateway") <= 3.0


def test_executor_and_watch_are_hardened(container: Appliance) -> None:
    # The executor trades device, sysfs and realtime access for robot SDKs (see the unit).
    assert exposure(container, "robotctl-executor") <= 3.5
    assert exposure(container, "robotctl-watch") <= 3.0


def test_token_is_generated_for_the_robotctl_group(container: Appliance) -> None:
    assert container.sh("stat -c '%a %U %G' /etc/robotctl/token").strip() == "640 root robotctl"
    assert re.fullmatch(r"[0-9a-f]{64}", container.token)


def test_default_project_installed_with_its_hash(container: Appliance) -> None:
    container.run(["diff", "-r", "-x", "__pycache__", "/usr/share/robotctl/default-project",
                   "/var/lib/robotctl/projects/default"])
    recorded = container.read("/var/lib/robotctl/default-project.sha256").strip()
    assert container.sh(HASH_DEFAULT).strip() == recorded
    assert container.sh("stat -c %U /var/lib/robotctl/projects/default/main.py").strip() == \
        "robotctl"


def test_code_lives_in_the_private_directory(container: Appliance) -> None:
    assert container.run(["python3", "-c", "import gateway"], check=False).returncode != 0
    assert container.sh("dpkg -L robotctl | grep -c dist-packages || true").strip() == "0"
    assert container.sh("readlink -f /usr/lib/robotctl/executor/default_project").strip() == \
        "/usr/share/robotctl/default-project"
    version = container.sh("cd /usr/lib/robotctl && python3 -c "
                           "'import shared; print(shared.__version__)'").strip()
    assert container.sh("dpkg-query -W -f '${Version}' robotctl").startswith(version + "-")


def test_robotctl_command_works_on_the_robot(container: Appliance) -> None:
    assert container.sh("robotctl token").strip() == container.token
    status = container.run(["robotctl", "--url", f"http://127.0.0.1:{container.port}",
                            "--json", "status"], timeout=60)
    assert status.returncode == 0 and status.stdout.strip(), status


def test_avahi_service_advertises_the_gateway(container: Appliance) -> None:
    xml = container.read("/etc/avahi/services/robotctl.service")
    version = container.sh("dpkg-query -W -f '${source:Upstream-Version}' robotctl").strip()
    for needle in ("<type>_robotctl._tcp</type>", f"<port>{container.port}</port>",
                   f"<txt-record>version={version}</txt-record>",
                   "<txt-record>auth=token</txt-record>"):
        assert needle in xml


# --- install, upgrade, remove, purge: each in a container of its own ------------------

def test_install_starts_the_appliance_cleanly(fresh: Appliance, deb: Path) -> None:
    if not port_is_free(8000):
        pytest.skip("port 8000 is taken on the host; the packaged config uses it")
    fresh.apt_install(deb)  # no port change: exactly what an operator's install does
    fresh.wait_active(SERVICES + ("robotctl.target",))
    errors = fresh.run(["journalctl", "--no-pager", "-q", "-p", "err", "-u", "robotctl-*"]).stdout
    assert errors == ""


def test_upgrade_keeps_operator_state(fresh: Appliance, deb: Path, tmp_path: Path) -> None:
    plus1 = build_variant(tmp_path, "t1", edit_default=True)
    plus2 = build_variant(tmp_path, "t2", edit_default=True)
    fresh.install(deb)
    fresh.sh("echo '# edited by the operator' >> /etc/robotctl/robotctl.yaml")
    config = fresh.read("/etc/robotctl/robotctl.yaml")
    pids = {unit: fresh.main_pid(unit) for unit in ("robotctl-gateway", "robotctl-executor")}

    # X -> X+1, default untouched: replaced by the new packaged one, units restarted.
    fresh.install(plus1)
    fresh.wait_active()
    assert "# packaged in" in fresh.read("/var/lib/robotctl/projects/default/main.py")
    assert fresh.sh(HASH_DEFAULT).strip() == \
        fresh.read("/var/lib/robotctl/default-project.sha256").strip()
    assert all(fresh.main_pid(unit) != pid for unit, pid in pids.items())
    assert fresh.read("/etc/robotctl/robotctl.yaml") == config

    # X+1 -> X+2, default edited by the operator: kept as it is.
    fresh.sh("echo '# mine' >> /var/lib/robotctl/projects/default/main.py")
    mine = fresh.read("/var/lib/robotctl/projects/default/main.py")
    token = fresh.token
    fresh.install(plus2)
    fresh.wait_active()
    assert fresh.read("/var/lib/robotctl/projects/default/main.py") == mine
    assert fresh.read("/etc/robotctl/robotctl.yaml") == config
    assert fresh.token == token


def test_remove_stops_everything_and_purge_cleans_state(fresh: Appliance, deb: Path) -> None:
    fresh.install(deb)
    fresh.run(["apt-get", "remove", "-y", "-q", "robotctl"])
    for unit in UNITS:
        assert fresh.prop(unit, "ActiveState") == "inactive"
    assert fresh.run(["pgrep", "-u", "robotctl"], check=False).stdout == ""
    assert fresh.sh("ls /var/lib/robotctl /etc/robotctl/token >/dev/null && echo kept") == "kept\n"

    fresh.run(["apt-get", "purge", "-y", "-q", "robotctl"])
    assert fresh.sh("ls -d /var/lib/robotctl /etc/robotctl 2>/dev/null || true") == ""
    assert fresh.sh("getent passwd robotctl | cut -d: -f1") == "robotctl\n"
