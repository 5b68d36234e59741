"""The instructors' preflight, run for real on the offline models."""

import subprocess

from stoic_workshop.preflight import NO_GO, WARN, check_pins, pins


def test_pins_are_read_from_requirements_and_drift_is_named_with_its_fix():
    offline = pins("offline")
    assert offline["transformers"] == "5.24.0" and offline["torch"] == "2.13.0"
    assert check_pins({"numpy": offline["numpy"]})[0][1] == "GO"
    assert check_pins({"torch": "2.13.0"})[0][1] == "GO"  # the CPU wheel is 2.13.0+cpu: same release
    rows = check_pins({"transformers": "5.17.0", "tqdm": "0.0.1", "no-such-package-xyz": "1.0"})
    by_name = {row[0]: row for row in rows}
    assert by_name["package transformers"][1] == NO_GO
    assert by_name["package transformers"][3] == 'pip install "transformers==5.17.0"'
    assert by_name["package tqdm"][1] == WARN and "(pinned 0.0.1)" in by_name["package tqdm"][2]
    assert by_name["package no-such-package-xyz"][2].startswith("not installed")


def test_preflight_command_prints_a_go_table_on_this_machine():
    done = subprocess.run(["stoic-workshop", "preflight"], capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    out = done.stdout
    for check in ("Python", "hardware", "package versions", "disk", "model gemma-3-270m",
                  "model smollm2-135m-instruct", "2-step fine-tune", "energy (CodeCarbon)", "GGUF converter",
                  "llama.cpp bindings"):
        assert check in out, check
    assert "cpu-lora, last step" in out
    assert "GO: 0 blocking problem(s)" in out
