"""The command line's entry: each command imports only its own modules; the bare listing matches the commands."""

from __future__ import annotations

import subprocess
import sys

import pytest
import typer

from archgen.cli.main import COMMANDS, build_app, command_of, main


def test_the_listing_names_every_command_with_its_own_help() -> None:
    real = typer.main.get_command(build_app()).commands  # type: ignore[attr-defined]
    assert set(real) == set(COMMANDS)
    for name, (_, help_text) in COMMANDS.items():
        assert (real[name].help or "").strip().split("\n")[0] == help_text, name


@pytest.mark.parametrize(
    ("argv", "command"),
    [
        (["search", "--budget", "10"], "search"),
        (["--data-dir", "/x", "--home", "/y", "tasks", "list"], "tasks"),
        (["--data-dir=/x", "space", "list"], "space"),
        (["--help"], None),
        ([], None),
    ],
)
def test_the_command_is_found_past_the_global_options(argv: list[str], command: str | None) -> None:
    assert command_of(argv) == command


def test_help_and_a_light_command_import_no_heavy_module() -> None:
    code = (
        "import sys\n"
        "from archgen.cli.main import main\n"
        "try:\n"
        "    main(sys.argv[1:])\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = [m for m in ('torch', 'archgen.composition', 'archgen.cli.search') if m in sys.modules]\n"
        "print('HEAVY:' + ','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code, "--help"], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "HEAVY:"
    # a search's --help and its usage errors answer from the options alone (the search stack is torch's)
    for args in (["search", "--help"], ["search", "--no-such-option"], ["search", "--budget", "x"]):
        out = subprocess.run([sys.executable, "-c", code.replace("'archgen.cli.search'", "'archgen.cli.search_run'"),
                              *args], capture_output=True, text=True, check=True)  # fmt: skip
        assert out.stdout.strip().splitlines()[-1] == "HEAVY:", (args, out.stdout[-300:])


def test_an_unknown_command_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        main(["no-such-command"])
    assert e.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no-such-command" in err[0]


def test_ctrl_c_exits_130_with_one_line(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import archgen.spaces as spaces  # `space list` reads it when it runs

    def interrupted() -> list[str]:
        raise KeyboardInterrupt

    monkeypatch.setattr(spaces, "list_spaces", interrupted)
    with pytest.raises(SystemExit) as e:
        main(["space", "list"])
    assert e.value.code == 130
    assert capsys.readouterr().err.strip().splitlines() == ["error: interrupted (Ctrl-C)"]


def test_a_command_s_own_exit_code_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    import archgen.spaces as spaces  # `space list` reads it when it runs

    def fails() -> list[str]:
        raise typer.Exit(3)

    monkeypatch.setattr(spaces, "list_spaces", fails)
    with pytest.raises(SystemExit) as e:
        main(["space", "list"])
    assert e.value.code == 3
