"""The judge against real models: llama.cpp serving SmolLM2-135M-Instruct, and the same model in transformers.

No mocks of the model. Where a test needs a judge that always answers one way (a position-biased
judge), the real server is made to by a JSON schema that allows only that answer. Retries are tested
against a real HTTP server on localhost that fails a few times, then forwards to llama.cpp (or, where only
the timing matters, answers a fixed verdict).
The 135M judge's opinions are weak (see calibrate), so tests check the mechanics, not its taste.
"""

import contextlib
import json
import sys
import threading
import time
import traceback
import urllib.request
import warnings
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pandas as pd
import pytest

from stoic_workshop.clients import LocalJudge, OpenAIJudge
from stoic_workshop.judging import (CALIBRATION_FILE, RUBRIC, JudgeError, _summary, calibrate, check_rubric, compare,
                                    judge, parse_choice, parse_verdict, verdict_schema, win_rate)
from stoic_workshop.serve import ServerError, free_port, llama_server

KEY_ENV = "STOIC_JUDGE_TEST_KEY"
KEY = "sk-judge-test-5e0c41d9a7"
CRITERIA = list(RUBRIC)
ITEMS = [json.loads(line) for line in CALIBRATION_FILE.read_text().splitlines()]
STOIC = [i for i in ITEMS if i["label"] == "stoic"]
HARMFUL = [i for i in ITEMS if i["label"] == "harmful"]


def verdict(**scores):
    return json.dumps(dict.fromkeys(CRITERIA, 3) | {"reason": "Fine."} | scores)


# --- verdicts, no model --------------------------------------------------------------------------

def test_the_last_valid_object_wins_because_models_echo_examples_first():
    text = f"Example: {verdict(stoic=1)}\nMy verdict: {verdict(stoic=5, reason='Names what is in our control.')}"
    assert parse_verdict(text) == dict.fromkeys(CRITERIA, 3) | {"stoic": 5, "reason": "Names what is in our control."}
    # a broken echo after the verdict (not JSON, or out of range) does not hide it
    assert parse_verdict(verdict(stoic=4) + ' then {"stoic": <1-5>}')["stoic"] == 4
    assert parse_verdict(verdict(stoic=4) + verdict(stoic=9))["stoic"] == 4
    # numbers written as "4" or 4.0 are read as 4; extra keys are ignored
    assert parse_verdict(verdict(stoic="4", safety=2.0, overall=5)) == dict.fromkeys(CRITERIA, 3) | {
        "stoic": 4, "safety": 2, "reason": "Fine."}


@pytest.mark.parametrize("text, problem", [
    (verdict(stoic=6), "'stoic' must be an integer from 1 to 5, got 6"),
    (verdict(kindness=0), "'kindness' must be an integer from 1 to 5, got 0"),
    (verdict(relevance=3.5), "'relevance' must be an integer from 1 to 5, got 3.5"),
    (verdict(usefulness=True), "'usefulness' must be an integer from 1 to 5, got True"),
    (json.dumps({"stoic": 3, "relevance": 3, "kindness": 3, "reason": "Hm."}), "missing key(s) 'usefulness', 'safety'"),
    (verdict(reason=" "), "'reason' must be a sentence"),
    ("I would give it a four out of five.", "no JSON object"),
    ('{"stoic": 4, "relevance": 3', "no JSON object"),  # cut off at max_tokens
])
def test_an_invalid_verdict_is_a_judge_error_that_names_the_problem(text, problem):
    with pytest.raises(JudgeError, match="(?s)" + problem.replace("(", r"\(").replace(")", r"\)")) as info:
        parse_verdict(text)
    assert not info.value.fatal  # worth another try, unlike a wrong key


def test_pairwise_choices_accept_only_a_b_or_tie():
    assert parse_choice('{"reason": "B is calmer.", "better": "b"}') == {"better": "B", "reason": "B is calmer."}
    with pytest.raises(JudgeError, match="'better' must be 'A', 'B' or 'tie', got 'both'"):
        parse_choice('{"reason": "Equal.", "better": "both"}')


def test_a_learner_adds_a_criterion_with_one_dict_merge():
    brevity = {"question": "Is it short?", "levels": {1: "rambles", 2: "long", 3: "fair", 4: "short", 5: "crisp"}}
    rubric = RUBRIC | {"brevity": brevity}
    assert list(check_rubric(rubric)) == [*CRITERIA, "brevity"] and "brevity" not in RUBRIC
    assert verdict_schema(rubric)["required"] == ["reason", *CRITERIA, "brevity"]
    with pytest.raises(JudgeError, match="missing key.*'brevity'"):
        parse_verdict(verdict(), rubric)
    assert parse_verdict(verdict(brevity=2), rubric)["brevity"] == 2
    with pytest.raises(TypeError):
        RUBRIC["brevity"] = brevity  # read-only, so one experiment cannot change everyone's rubric
    for bad in ({"brevity": {"question": "Short?", "levels": {0: "a", 1: "b", 2: "c", 3: "d", 4: "e"}}},
                {"brevity": {"levels": brevity["levels"]}}, {"error": brevity}, {}):
        with pytest.raises(ValueError, match="criterion|rubric"):
            check_rubric(bad)


# --- calibration set and arithmetic, no model ----------------------------------------------------

def test_the_calibration_set_has_five_realistic_items_per_label():
    labels = [i["label"] for i in ITEMS]
    assert {label: labels.count(label) for label in set(labels)} == dict.fromkeys(
        ["stoic", "generic", "off_topic", "harmful", "invented_quote"], 5)
    assert len({i["complaint"] for i in ITEMS}) == len({i["id"] for i in ITEMS}) == 25
    for item in ITEMS:
        assert 40 <= len(item["answer"].split()) <= 80, item["id"]
    # each label covers the same five areas, so area cannot explain a label
    for label in set(labels):
        assert sorted(i["area"] for i in ITEMS if i["label"] == label) == [
            "commuting", "family", "health", "money", "work"]


def test_calibration_numbers_are_computed_from_the_judged_rows_only():
    rows = pd.DataFrame({
        "label": ["stoic", "stoic", "generic", "off_topic", "harmful", "harmful", "harmful", "invented_quote",
                  "invented_quote"],
        "stoic": pd.array([5, 4, 4, 2, 1, 1, None, 5, 2], dtype="Int64"),
        "safety": pd.array([5, 5, 2, 4, 1, 3, None, 4, 4], dtype="Int64"),
        "error": [None] * 6 + ["invalid verdict", None, None],
        "judge": ["j"] * 9,
    })
    report = _summary(rows, ["stoic", "safety"])
    # stoic items score 5 and 4; the judged others 4, 2, 1, 1, 5, 2. Pairs ranked right: 5 beats five of them
    # and ties the 5 (5.5); 4 ties the 4 (0.5) and beats 2, 1, 1, 2 (4): 10 of 12 pairs.
    assert report.agreement == pytest.approx(10 / 12)
    # judged harmful items have safety 1 and 3: one of two is flagged; of the six others, the generic
    # one (safety 2) is a false alarm; the failed row counts nowhere
    assert report.harmful_flagged == 0.5 and report.false_alarms == pytest.approx(1 / 6) and report.failed == 1
    # the invented-quotation answers got stoic 5 (let through) and 2 (flagged): half
    assert report.invented_flagged == 0.5 and "invented quotations given stoic <= 2: 0.50" in str(report)
    assert report.means.loc["harmful", "safety"] == 2.0 and report.means.loc["stoic", "stoic"] == 4.5
    assert report.doubts == [] and "verdict: no reason found to doubt it" in str(report)


def test_a_judge_that_gives_every_answer_the_same_score_is_called_untrustworthy():
    """On the GPU run the judge was Gemma 3 270M base itself: 1 for every criterion of every answer, agreement 0.50.
    The notebook printed the numbers but nothing said they make the judge's verdicts worthless."""
    labels = ["stoic"] * 5 + ["generic"] * 5 + ["off_topic"] * 5 + ["harmful"] * 5 + ["invented_quote"] * 5
    rows = pd.DataFrame({"label": labels, "stoic": pd.array([1] * 25, dtype="Int64"),
                         "safety": pd.array([1] * 25, dtype="Int64"), "error": [None] * 25, "judge": ["j"] * 25})
    report = _summary(rows, ["stoic", "safety"])
    assert report.agreement == 0.5 and report.harmful_flagged == 1.0 and report.false_alarms == 1.0
    assert len(report.doubts) == 2
    assert "verdict: do not read this judge's scores as evidence: it ranks the Stoic answers above the others no " \
           "better than a coin flip (0.50" in str(report)
    assert "calls harmless answers unsafe as often as harmful ones (1.00 vs 1.00)" in str(report)


# --- the local server ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """llama.cpp on 127.0.0.1 serving the packaged SmolLM2 GGUF, demanding KEY; stopped even if a test fails."""
    pytest.importorskip("llama_cpp.server.app")
    log = tmp_path_factory.mktemp("judge_server") / "server.log"
    with llama_server("smollm2-135m-instruct", api_key=KEY, log=log) as running:
        yield running


@pytest.fixture()
def key(monkeypatch):
    monkeypatch.setenv(KEY_ENV, KEY)


def smol_judge(base_url, **kwargs):
    """The SmolLM2 judge with short answers, to keep the tests quick on two cores."""
    return OpenAIJudge(base_url, model="smollm2-135m-instruct", api_key_env=KEY_ENV, **({"max_tokens": 120} | kwargs))


class Counting:
    """Any judge, counting the requests it sends; the answers still come from the model."""

    def __init__(self, inner):
        self.inner, self.calls = inner, 0

    @property
    def name(self):
        return self.inner.name

    def ask(self, messages, schema=None, attempt=0):
        self.calls += 1
        return self.inner.ask(messages, schema, attempt)


def test_the_server_stops_after_the_block_and_a_broken_model_fails_with_its_log(tmp_path):
    with llama_server() as running:
        assert running.base_url.startswith("http://127.0.0.1:") and running.base_url.endswith("/v1")
        assert running.model == "smollm2-135m-instruct"
        with urllib.request.urlopen(f"{running.base_url}/models", timeout=5) as response:
            assert json.load(response)["data"][0]["id"] == running.model
    with pytest.raises(OSError):
        urllib.request.urlopen(f"{running.base_url}/models", timeout=2)  # nothing listens any more
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"not a model")
    with pytest.raises(ServerError, match="(?s)exited with code.*broken.gguf"):
        with llama_server(broken, timeout=60):
            pass
    with pytest.raises(ServerError, match="preset name .* or an existing .gguf file"):
        with llama_server(tmp_path / "missing.gguf"):
            pass
    with pytest.raises(ServerError, match="no packaged GGUF"):
        with llama_server("gemma-2-2b"):
            pass


def test_the_server_exits_when_its_parent_is_killed():
    """A notebook kernel that is restarted dies without running `finally`: its server must not live on."""
    import os
    import signal
    import subprocess

    code = ("import time; from stoic_workshop.serve import llama_server\n"
            "with llama_server() as s:\n    print(s.pid, flush=True); time.sleep(300)")
    parent = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    pid = int(parent.stdout.readline())
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and _alive(pid):
        time.sleep(0.2)
    assert not _alive(pid)


def _alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(")")[-1].split()[0] not in ("Z", "X")  # a zombie has exited
    except FileNotFoundError:
        return False


def test_a_missing_server_extra_names_the_install_command(monkeypatch):
    monkeypatch.setitem(sys.modules, "llama_cpp.server.app", None)  # as if fastapi/uvicorn were not installed
    with pytest.raises(ServerError, match=r'pip install "llama-cpp-python\[server\]==0\.3\.36"'):
        with llama_server():
            pass


# --- scoring -------------------------------------------------------------------------------------

def test_judge_scores_every_answer_and_a_rerun_judges_only_new_rows(server, key, tmp_path):
    out = tmp_path / "scores.jsonl"
    counted = Counting(smol_judge(server.base_url))
    first = judge([i["complaint"] for i in ITEMS[:2]], [i["answer"] for i in ITEMS[:2]], counted, out=out,
                  progress=False, json_retries=0)
    assert counted.calls == 2 and len(out.read_text().splitlines()) == 2
    assert list(first.columns) == ["complaint", "answer", *CRITERIA, "reason", "error", "judge"]
    assert first["error"].isna().all()  # structured output: the 135M judge writes valid JSON every time
    for name in CRITERIA:
        assert first[name].dtype == "Int64" and first[name].between(1, 5).all()
    assert first["reason"].str.len().between(1, 200).all()

    with out.open("a") as file:
        file.write('{"complaint": "cut off by a cra')  # a crash in the middle of a line
    with pytest.warns(UserWarning, match="line 3 is cut off"):
        again = judge([i["complaint"] for i in ITEMS[:3]], [i["answer"] for i in ITEMS[:3]], counted, out=out,
                      progress=False, json_retries=0)
    assert counted.calls == 2 + 1  # only the new answer was sent
    pd.testing.assert_frame_equal(again.iloc[:2], first)
    assert again["error"].isna().all() and len(again) == 3
    lines = out.read_text().splitlines()
    assert len(lines) == 4 and json.loads(lines[3])["complaint"] == ITEMS[2]["complaint"]  # on a fresh line

    brevity = {"question": "Is it short?", "levels": {1: "rambles", 2: "long", 3: "fair", 4: "short", 5: "crisp"}}
    with pytest.raises(JudgeError, match="another rubric"):
        judge([ITEMS[0]["complaint"]], [ITEMS[0]["answer"]], counted, out=out, rubric=RUBRIC | {"brevity": brevity},
              progress=False)
    assert counted.calls == 3


def test_a_judgement_that_stays_invalid_is_a_failure_never_a_score(server, key, tmp_path):
    counted = Counting(smol_judge(server.base_url, max_tokens=4))  # cut off long before the JSON ends
    with pytest.warns(UserWarning, match="1 of 1 judgements failed"):
        frame = judge([ITEMS[0]["complaint"]], [ITEMS[0]["answer"]], counted, out=tmp_path / "s.jsonl",
                      progress=False, json_retries=1)
    assert counted.calls == 2  # one greedy try, one sampled retry, then it gives up
    [error] = frame["error"]
    assert "no JSON object" in error and "after 2 tries" in error
    assert frame[CRITERIA].isna().all(axis=None)  # empty, not 0
    with pytest.warns(UserWarning, match="1 of 1 judgements failed"):
        judge([ITEMS[0]["complaint"]], [ITEMS[0]["answer"]], counted, out=tmp_path / "s.jsonl", progress=False,
              json_retries=0)
    assert counted.calls == 3  # a saved failure is judged again on a rerun, unlike a saved verdict


def test_a_learners_criterion_is_scored_by_the_model(server, key):
    brevity = {"question": "Is the reply short?", "levels": {1: "rambles", 2: "long", 3: "fair", 4: "short",
                                                             5: "every sentence earns its place"}}
    frame = judge([STOIC[1]["complaint"]], [STOIC[1]["answer"]], smol_judge(server.base_url),
                  rubric=RUBRIC | {"brevity": brevity}, progress=False, json_retries=0)
    assert frame.loc[0, "error"] is None and frame.loc[0, "brevity"] in range(1, 6)


# --- pairwise ------------------------------------------------------------------------------------

class Forced(OpenAIJudge):
    """The real model, made position-biased: the schema lets it answer only `better`."""

    def __init__(self, base_url, better):
        super().__init__(base_url, model="smollm2-135m-instruct", api_key_env=KEY_ENV, max_tokens=40)
        self.forced = {"type": "object", "required": ["reason", "better"], "additionalProperties": False,
                       "properties": {"reason": {"type": "string", "minLength": 1, "maxLength": 12},
                                      "better": {"type": "string", "enum": [better]}}}

    def ask(self, messages, schema=None, attempt=0):
        return super().ask(messages, self.forced, attempt)


def test_compare_asks_in_both_orders_and_reports_disagreement(server, key, tmp_path):
    out = tmp_path / "pairs.jsonl"
    complaints, stoic, harmful = [STOIC[0]["complaint"]], [STOIC[0]["answer"]], [HARMFUL[0]["answer"]]
    counted = Counting(smol_judge(server.base_url))
    pairs = compare(complaints, stoic, harmful, counted, out=out, labels=("stoic", "harmful"), progress=False,
                    json_retries=0)
    assert counted.calls == 2  # the pair in both orders
    assert pairs["error"].isna().all()
    for row in pairs.itertuples():
        assert {row.ab, row.ba} <= {"stoic", "harmful", "tie"}
        assert row.winner == (row.ab if row.ab == row.ba else "inconsistent")
    counts = win_rate(pairs, "stoic")
    assert counts["wins"] + counts["losses"] + counts["ties"] + counts["inconsistent"] == counts["judged"] == 1
    assert counts["win_rate"] == counts["wins"] and counts["failed"] == 0
    again = compare(complaints, stoic, harmful, counted, out=out, labels=("stoic", "harmful"), progress=False)
    assert counted.calls == 2  # read back from out
    pd.testing.assert_frame_equal(again, pairs)


def test_a_judge_that_always_prefers_the_first_answer_wins_nothing(server, key):
    """Answer A is the base model's in one order and the fine-tuned model's in the other, so "always A"
    is exposed as position bias: every pair is inconsistent and the win rate is 0, not 50%."""
    complaint, a, b = STOIC[2]["complaint"], STOIC[2]["answer"], HARMFUL[2]["answer"]
    biased = compare([complaint], [a], [b], Forced(server.base_url, "A"), progress=False, json_retries=0)
    assert (biased["ab"][0], biased["ba"][0], biased["winner"][0]) == ("base", "fine-tuned", "inconsistent")
    assert win_rate(biased, "fine-tuned") == {"wins": 0, "ties": 0, "inconsistent": 1, "losses": 0, "failed": 0,
                                              "judged": 1, "win_rate": 0.0}
    tied = compare([complaint], [a], [b], Forced(server.base_url, "tie"), progress=False, json_retries=0)
    assert tied["winner"][0] == "tie" and win_rate(tied, "base")["ties"] == 1


# --- retries against a flaky server --------------------------------------------------------------

class Flaky(BaseHTTPRequestHandler):
    """Plays the server's `plan` (one step per request), then forwards requests to llama.cpp."""

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        step = self.server.plan.pop(0) if self.server.plan else "forward"
        self.server.seen.append((step, time.monotonic()))
        headers = {"Content-Type": "application/json"}
        if step == "forward":
            request = urllib.request.Request(self.server.upstream + self.path.removeprefix("/v1"), data=body,
                                             headers={"Content-Type": "application/json",
                                                      "Authorization": self.headers["Authorization"]})
            with urllib.request.urlopen(request, timeout=120) as response:
                status, data = response.status, response.read()
        elif step == "slow":  # answers only after the client has given up
            time.sleep(1.5)
            status, data = 500, b"{}"
        elif step == "answer":
            message = {"role": "assistant", "content": verdict(stoic=5)}
            status, data = 200, json.dumps({
                "id": "x", "object": "chat.completion", "created": 0, "model": "flaky",
                "choices": [{"index": 0, "message": message, "finish_reason": "stop"}]}).encode()
        elif step == "echo":  # a careless server that repeats the Authorization header in its error
            message = f"bad header {self.headers['Authorization']}"
            status, data = 500, json.dumps({"error": {"message": message}}).encode()
        else:
            status, data = int(step), json.dumps({"error": {"message": f"try again ({step})"}}).encode()
            if status == 429:
                headers["Retry-After"] = "0"
        try:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def log_message(self, *args):
        pass


@contextlib.contextmanager
def endpoint(handler, upstream):
    """`handler` serving on 127.0.0.1 (its `plan`, `seen` and `requests` lists empty), stopped afterwards."""
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    server.plan, server.seen, server.requests, server.upstream = [], [], [], upstream
    threading.Thread(target=server.serve_forever, daemon=True).start()
    server.base_url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture()
def flaky(server):
    with endpoint(Flaky, server.base_url) as proxy:
        yield proxy


def test_rate_limits_and_server_errors_are_retried_with_growing_waits(flaky, key):
    flaky.plan = ["429", "500", "503", "answer"]
    frame = judge(["Late again."], ["Lateness is not yours to command."], smol_judge(flaky.base_url, backoff=0.1,
                  retries=3), progress=False, json_retries=0)
    assert [step for step, _ in flaky.seen] == ["429", "500", "503", "answer"]
    assert frame.loc[0, "error"] is None and frame.loc[0, "stoic"] == 5
    waits = [later - earlier for (_, earlier), (_, later) in zip(flaky.seen, flaky.seen[1:])]
    # back-off 0.1 s, doubled after each failure: 0.1, 0.2, 0.4 s (Retry-After: 0 asks for no more)
    assert all(wait >= least for wait, least in zip(waits, [0.095, 0.195, 0.395])), waits
    assert waits[0] < waits[1] < waits[2], waits


def test_a_timeout_is_retried(flaky, key):
    flaky.plan = ["slow", "answer"]
    frame = judge(["Late again."], ["Lateness is not yours to command."], smol_judge(flaky.base_url, timeout=0.5,
                  backoff=0.01, retries=1), progress=False)
    assert [step for step, _ in flaky.seen] == ["slow", "answer"] and frame.loc[0, "stoic"] == 5


def test_retries_are_bounded_and_a_failed_row_does_not_stop_the_run(flaky, key):
    flaky.plan = ["500", "500", "500"]
    with pytest.warns(UserWarning, match="1 of 2 judgements failed"):
        frame = judge([i["complaint"] for i in STOIC[:2]], [i["answer"] for i in STOIC[:2]],
                      smol_judge(flaky.base_url, backoff=0.01, retries=2), progress=False, json_retries=0)
    assert [step for step, _ in flaky.seen] == ["500", "500", "500", "forward"]
    assert "HTTP 500" in frame.loc[0, "error"] and "after 3 tries" in frame.loc[0, "error"]
    assert frame.loc[[0], CRITERIA].isna().all(axis=None)
    assert frame.loc[1, "error"] is None and frame.loc[1, "stoic"] in range(1, 6)


def test_a_failed_order_makes_the_pair_a_failure_not_a_verdict(flaky, key):
    flaky.plan = ["503"]
    with pytest.warns(UserWarning, match="1 of 1 judgements failed"):
        pairs = compare([STOIC[0]["complaint"]], [STOIC[0]["answer"]], [HARMFUL[0]["answer"]],
                        smol_judge(flaky.base_url, retries=0), progress=False, json_retries=0)
    assert pairs.loc[0, "winner"] is None and pairs.loc[0, "error"].startswith("ab: ")
    assert pairs.loc[0, "ab"] is None and pairs.loc[0, "ba"] in ("base", "fine-tuned", "tie")
    assert win_rate(pairs, "base") == {"wins": 0, "ties": 0, "inconsistent": 0, "losses": 0,
                                                        "failed": 1, "judged": 0, "win_rate": None}


# --- the API key ---------------------------------------------------------------------------------

def test_the_key_never_appears_in_files_reprs_errors_or_output(server, flaky, key, monkeypatch, tmp_path, capsys):
    out = tmp_path / "scores.jsonl"
    j = smol_judge(server.base_url)
    frame = judge([STOIC[3]["complaint"]], [STOIC[3]["answer"]], j, out=out, progress=True)
    assert frame.loc[0, "error"] is None

    flaky.plan = ["echo", "echo"]
    with pytest.warns(UserWarning):
        echoed = judge(["Late again."], ["Lateness is not yours."], smol_judge(flaky.base_url, backoff=0.01, retries=1),
                       out=tmp_path / "echo.jsonl", progress=False)
    assert "bad header Bearer ***" in echoed.loc[0, "error"]  # the server's text, with the key scrubbed

    wrong = "sk-wrong-key-77d3e2"
    monkeypatch.setenv(KEY_ENV, wrong)
    with pytest.raises(JudgeError) as info:  # a new complaint: the saved one would be read back, not sent
        judge([ITEMS[6]["complaint"]], [ITEMS[6]["answer"]], smol_judge(server.base_url), out=out, progress=False)
    assert info.value.fatal and "401" in str(info.value) and KEY_ENV in str(info.value)
    assert info.value.__cause__ is None and info.value.__context__ is None  # openai's error holds the request

    captured = capsys.readouterr()
    shown = [out.read_text(), (tmp_path / "echo.jsonl").read_text(), repr(j), str(vars(j)),
             frame.to_json(), echoed.to_json(), str(info.value), "".join(traceback.format_exception(info.value)),
             captured.out, captured.err, server.log.read_text()]
    for text in shown:
        assert KEY not in text and wrong not in text


def test_structured_output_takes_the_form_each_server_accepts(server, key, monkeypatch):
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)  # OpenAIJudge() below must mean OpenAI's own API
    # llama-cpp-python 0.3.36 accepts only {"type": "json_object", "schema": ...}; OpenAI wants "json_schema"
    assert smol_judge(server.base_url).structured == "json_object"
    with pytest.warns(UserWarning, match="1 of 1 judgements failed"):
        refused = judge(["Late again."], ["Lateness is not yours."],
                        smol_judge(server.base_url, structured="json_schema"), progress=False)
    # llama-cpp-python says so with HTTP 500 (a pydantic error naming response_format): not retried, explained
    error = refused.loc[0, "error"]
    assert "response_format" in error and "try structured=" in error and "tries" not in error
    assert OpenAIJudge(api_key_env=KEY_ENV).structured == "json_schema"
    assert OpenAIJudge("http://127.0.0.1:8000/v1", api_key_env=KEY_ENV, structured="json_schema").structured == \
        "json_schema"
    with pytest.raises(ValueError, match="structured must be"):
        OpenAIJudge(api_key_env=KEY_ENV, structured="grammar")


def test_on_colab_the_key_comes_from_the_notebook_secrets(monkeypatch):
    import types

    monkeypatch.delenv(KEY_ENV, raising=False)
    colab = types.ModuleType("google.colab")
    colab.userdata = types.SimpleNamespace(get=lambda name: KEY if name == KEY_ENV else None)
    monkeypatch.setitem(sys.modules, "google", types.ModuleType("google"))
    monkeypatch.setitem(sys.modules, "google.colab", colab)
    j = OpenAIJudge("http://127.0.0.1:9/v1", model="m", api_key_env=KEY_ENV)
    assert j._client.api_key == KEY and KEY not in repr(j)
    monkeypatch.setattr(colab, "userdata", types.SimpleNamespace(get=lambda name: None))
    with warnings.catch_warnings():  # a server on this machine wants no key: the placeholder, and no warning
        warnings.simplefilter("error")
        assert OpenAIJudge("http://127.0.0.1:9/v1", model="m", api_key_env=KEY_ENV)._client.api_key == "not-needed"
    with pytest.warns(UserWarning, match="placeholder key 'not-needed'.*hosted APIs will answer 401"):
        assert OpenAIJudge("http://judge.example:9/v1", model="m", api_key_env=KEY_ENV)._client.api_key == "not-needed"



class Recording(Flaky):
    """Flaky's fixed answers (nothing behind it), noting the path and Authorization header of each request."""

    def do_POST(self):
        self.server.requests.append((self.path, self.headers.get("Authorization")))
        super().do_POST()


@pytest.fixture()
def recording():
    with endpoint(Recording, None) as server:
        yield server


def test_openai_base_url_sends_the_judge_and_its_key_to_that_endpoint(recording, monkeypatch, capsys):
    """A key for another OpenAI-compatible endpoint went to api.openai.com, and the error named OpenAI."""
    from stoic_workshop.evaluate import pick_judge

    monkeypatch.setenv("OPENAI_BASE_URL", recording.base_url)  # the variables the openai client reads
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.delenv("STOIC_JUDGE_MODEL", raising=False)
    recording.plan = ["answer"]
    j = OpenAIJudge(model="m", retries=0)  # no base_url given: $OPENAI_BASE_URL's
    frame = judge(["Late again."], ["Lateness is not yours."], j, progress=False, json_retries=0)
    assert frame.loc[0, "error"] is None and frame.loc[0, "stoic"] == 5
    assert recording.requests == [("/v1/chat/completions", f"Bearer {KEY}")]

    recording.plan = ["401"]
    with pytest.raises(JudgeError) as info:
        judge(["Late again."], ["Lateness is not yours."], OpenAIJudge(model="m", retries=0), progress=False)
    assert info.value.fatal and f"judge 'm' at {recording.base_url}: authentication failed" in str(info.value)

    recording.plan = ["answer"]
    picked = pick_judge()  # a key and a base URL in the environment: that endpoint, not the local server
    assert picked.base_url == recording.base_url
    picked.ask([{"role": "user", "content": "Late again."}])
    assert recording.requests[-1] == ("/v1/chat/completions", f"Bearer {KEY}")
    printed = capsys.readouterr()
    assert f"Judge: gpt-4o-mini at {recording.base_url}" in printed.out
    for text in (printed.out, printed.err, str(info.value), repr(j), repr(picked), picked.label):
        assert KEY not in text and "api.openai.com" not in text and "(OpenAI API)" not in text, text

    monkeypatch.delenv("OPENAI_API_KEY")  # a keyless server (Ollama, vLLM) named by its URL alone: still used,
    with warnings.catch_warnings():        # and on this machine without a warning about the key
        warnings.simplefilter("error")
        assert pick_judge(verbose=False).base_url == recording.base_url

    # precedence, as in the openai client: the argument, then $OPENAI_BASE_URL, then OpenAI's own API
    assert OpenAIJudge("http://127.0.0.1:9/v1").base_url == "http://127.0.0.1:9/v1"
    monkeypatch.delenv("OPENAI_BASE_URL")
    assert OpenAIJudge().base_url == "https://api.openai.com/v1"


# --- calibration and the local judge -------------------------------------------------------------

def test_calibrate_reports_per_label_means_and_agreement(server, key):
    report = calibrate(smol_judge(server.base_url), per_label=1, progress=False, json_retries=0)
    assert list(report.rows["label"]) == ["stoic", "generic", "off_topic", "harmful", "invented_quote"]
    assert list(report.rows["id"]) == [ITEMS[i]["id"] for i in (0, 5, 10, 15, 20)]
    assert report.failed == 0 and list(report.means.columns) == CRITERIA
    stoic = report.rows.set_index("label")["stoic"]
    # one stoic item against four others: each pair scores 1 if ranked right, 0.5 if tied
    expected = sum((stoic["stoic"] > s) + 0.5 * (stoic["stoic"] == s) for s in stoic.drop("stoic")) / 4
    assert report.agreement == pytest.approx(expected)
    safety = report.rows.set_index("label")["safety"]
    assert report.harmful_flagged == float(safety["harmful"] <= 2)
    assert report.false_alarms == pytest.approx((safety.drop("harmful") <= 2).mean())
    assert "agreement" in str(report) and "0.5 = chance" in str(report)
    assert report.invented_flagged == float(stoic["invented_quote"] <= 2)


def test_local_judge_writes_valid_json_around_the_transformers_model(smol):
    model, tokenizer = smol
    counted = Counting(LocalJudge(model, tokenizer, max_new_tokens=24))  # a short reason: torch is slow on 2 cores
    frame = judge([STOIC[4]["complaint"]], [STOIC[4]["answer"]], counted, progress=False, json_retries=1)
    assert counted.calls == 1  # valid at the first, greedy try: LocalJudge writes the JSON, the model fills it in
    row = frame.loc[0]
    assert row["error"] is None and row["reason"] and all(row[name] in range(1, 6) for name in CRITERIA)
    pairs = compare([STOIC[4]["complaint"]], [STOIC[4]["answer"]], [HARMFUL[4]["answer"]], counted, progress=False)
    assert counted.calls == 3 and pairs.loc[0, "error"] is None
    assert {pairs.loc[0, "ab"], pairs.loc[0, "ba"]} <= {"base", "fine-tuned", "tie"}
