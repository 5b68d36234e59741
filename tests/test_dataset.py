"""The dataset layer: built-in conversations, the learner's own pairs, splits and bad input."""

import json

import pytest

import stoic_workshop as sw
from stoic_workshop.dataset import DATA_DIR, write_default_data

REPLY = ("The traffic is outside your control; your response is not. Put on something you enjoy, breathe, and "
         "use the time to plan the evening. You will arrive when you arrive, and arriving calm is the part "
         "that is still up to you. Tell whoever is waiting, then let the worry go.")  # 52 words


def test_make_dataset_is_deterministic_conversations():
    ds = sw.make_dataset(n=80, seed=1)
    assert ds.num_rows == 80 and ds.column_names == ["messages", "id", "area", "idea"]
    assert ds["id"] == sw.make_dataset(n=80, seed=1)["id"] != sw.make_dataset(n=80, seed=2)["id"]
    assert [t["role"] for t in ds[0]["messages"]] == ["user", "assistant"]
    with_system = sw.make_dataset(n=2, system="You are a Stoic.")
    assert [t["role"] for t in with_system[0]["messages"]] == ["system", "user", "assistant"]


def test_committed_data_files_match_the_generator(tmp_path):
    # data/ is what learners read: it must be exactly what the code generates (stoic-workshop data).
    written = write_default_data(tmp_path)
    for name, path in written.items():
        assert path.read_text(encoding="utf-8") == (DATA_DIR / path.name).read_text(encoding="utf-8"), name


def test_split_keeps_every_complaint_on_one_side():
    splits = sw.train_eval_split(sw.make_dataset(), eval_fraction=0.1)
    first_user = lambda ds: {m[0]["content"].lower() for m in ds["messages"]}  # noqa: E731
    assert splits["train"].num_rows + splits["eval"].num_rows == 160 and splits["eval"].num_rows == 16
    assert not first_user(splits["train"]) & first_user(splits["eval"])
    prompts = set((DATA_DIR / "eval_prompts.txt").read_text(encoding="utf-8").splitlines())
    assert len(prompts) >= 12 and not prompts & {m[0]["content"] for m in sw.make_dataset()["messages"]}


def test_own_pairs_from_a_list_csv_and_jsonl_mix_in(tmp_path):
    own = [{"complaint": "Stuck in traffic 🚗 again.", "reply": REPLY},
           {"messages": [{"role": "user", "content": "Καλημέρα: my bus is late."},
                         {"role": "assistant", "content": REPLY}]}]
    csv_file = tmp_path / "mine.csv"
    csv_file.write_text('complaint,reply,system\n"My flight, again, delayed.","' + REPLY + '",Be a Stoic.\n',
                        encoding="utf-8")
    jsonl = tmp_path / "mine.jsonl"
    jsonl.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in own) + "\n", encoding="utf-8")
    from_list, from_csv, from_jsonl = sw.load_pairs(own), sw.load_pairs(csv_file), sw.load_pairs(jsonl)
    assert from_list["messages"] == from_jsonl["messages"]
    assert from_list[0]["messages"][0]["content"] == "Stuck in traffic 🚗 again."
    assert [t["role"] for t in from_csv[0]["messages"]] == ["system", "user", "assistant"]
    mixed = sw.mix(sw.make_dataset(n=5), from_list, from_csv)
    assert mixed.num_rows == 5 + 2 + 1 and mixed.column_names == ["messages"]


def test_every_bad_row_is_reported_at_once():
    rows = [
        {"complaint": "ok", "reply": REPLY},                                         # row 1: fine
        {"text": "no messages here"},                                                # row 2
        {"messages": [{"role": "human", "content": "hi"}, {"role": "assistant", "content": "x"}]},  # row 3
        {"messages": [{"role": "user", "content": 42}, {"role": "assistant", "content": "x"}]},    # row 4
        {"messages": [{"role": "user", "content": "   "}, {"role": "assistant", "content": "x"}]},  # row 5
        {"messages": [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}]},        # row 6
        {"complaint": "", "reply": REPLY},                                           # row 7
    ]
    with pytest.raises(sw.DataError) as err:
        sw.load_pairs(rows)
    message = str(err.value)
    assert "6 bad row(s); nothing was loaded" in message
    assert "row 2: field 'messages' is missing" in message
    assert "row 3: messages[0].role: expected one of system, user, assistant, got 'human'" in message
    assert "row 4: messages[0].content: expected text, got int" in message
    assert "row 5: messages[0].content: empty or whitespace only" in message
    assert "row 6: roles must alternate user, assistant" in message
    assert "row 7: field 'complaint' is missing or empty" in message
    assert "row 1" not in message


def test_bad_files_name_the_file_and_line(tmp_path):
    jsonl = tmp_path / "broken.jsonl"
    jsonl.write_text('{"complaint": "a", "reply": "b"}\nnot json at all\n{"messages": 3\n', encoding="utf-8")
    with pytest.raises(sw.DataError, match=r"(?s)broken.jsonl.*2 bad row.*line 2: not JSON.*line 3: not JSON"):
        sw.load_pairs(jsonl)
    csv_file = tmp_path / "wrong.csv"
    csv_file.write_text("question,answer\nq,a\n", encoding="utf-8")
    with pytest.raises(sw.DataError, match=r"(?s)wrong.csv.*expected columns 'complaint' and 'reply'.*'answer'"):
        sw.load_pairs(csv_file)
    with pytest.raises(sw.DataError, match="unsupported file type '.txt'"):
        (tmp_path / "notes.txt").write_text("hello")
        sw.load_pairs(tmp_path / "notes.txt")


def test_save_jsonl_round_trips_unicode(tmp_path):
    ds = sw.load_pairs([{"complaint": "Ο καιρός 🌧️ χάλασε το πικνίκ.", "reply": REPLY}])
    path = sw.save_jsonl(ds, tmp_path / "out" / "mine.jsonl")
    assert "🌧️" in path.read_text(encoding="utf-8")  # written as UTF-8, not \\u escapes
    assert sw.load_pairs(path)["messages"] == ds["messages"]
