"""Knowledge specialism: what fine-tuning can and cannot teach a small model, measured against retrieval.

Teaching a tone (notebooks 2-3) and teaching facts are different jobs. Here the facts are the course's own:
who said each quotation in `data.QUOTES`, in which work and section, and a few facts about Epictetus, Seneca and
Marcus Aurelius. Every fact comes with several phrasings of its question for training and one more, never trained
on, for the test; "unknown" questions, which the facts cannot answer, check that a model says it does not know.

    facts = knowledge_facts()                        # 173 facts, each one sentence with its questions
    ask(model, tok, "Who tutored Nero?")             # closed book: what the weights know
    ask(model, tok, "Who tutored Nero?", facts)      # retrieval: the top-3 facts (MiniLM) put in the prompt
    run("knowledge", model="smollm2-135m-instruct")  # the five arms side by side: knowledge.csv, adapters, a chart

The arms, on one model, with one training budget (steps, batch, learning rate):
  base        closed book, no training
  sft-one     LoRA on one phrasing of each fact's question and answer
  sft-many    LoRA on several phrasings of each (paraphrase augmentation)
  rag         no training; the top-k facts retrieved into the prompt
  sft-rag     sft-many's adapters, with retrieval
A question counts as answered right when the answer names the fact's answer, names no rival answer (another of the
three philosophers, another work), and does not say "I don't know". On an unknown question, saying so is right.
"""

from __future__ import annotations

import functools
import json
import os
import re
import time
from dataclasses import dataclass

from .stoic_data import AUTHORS, QUOTES

__all__ = ["Fact", "knowledge_facts", "unknown_questions", "training_conversations", "retrieve", "ask", "answer_all",
           "grade", "abstains", "ARMS", "SYSTEM", "run", "summarize", "plot_arms", "DONT_KNOW"]

SYSTEM = "Answer in one short sentence. If you do not know the answer, say \"I don't know\"."
DONT_KNOW = "I don't know: that is not in what I have learned."
RAG_INSTRUCTION = "Answer from the facts above. If they do not answer the question, say \"I don't know\"."
RAG_PROMPT = "Facts:\n{facts}\n\nQuestion: {question}\n" + RAG_INSTRUCTION
ARMS = ("base", "sft-one", "sft-many", "rag", "sft-rag")
TRAINED = {"sft-one": "one", "sft-many": "many"}     # arm -> phrasings it trains on
RETRIEVES = ("rag", "sft-rag")
SEEN_EVERY = 3     # the trained phrasing is asked again for every third fact


@dataclass(frozen=True)
class Fact:
    """One fact: a sentence (what retrieval finds), its answer, and the questions that ask for it.

    `answers`: the forms that count as the answer (any one is enough); `rivals`: wrong answers of the same kind,
    any of which in an answer makes it wrong (naming all three philosophers is not knowing which one).
    `questions`: the phrasings training may use (the first is the single-phrasing arm's); `test`: a phrasing no
    training set uses; `replies`: ways to say the answer in training (the first is the single-phrasing arm's).
    Example: `fact = sw.knowledge_facts()[0]; fact.answers, fact.test`  # -> (("Epictetus",), "Name the philosopher...")
    """
    id: str
    text: str
    answers: tuple[str, ...]
    questions: tuple[str, ...]
    test: str
    replies: tuple[str, ...]
    rivals: tuple[str, ...] = ()
    kind: str = ""

    def __post_init__(self):
        if self.test in self.questions:
            raise ValueError(f"fact {self.id}: its test question is also a training question")

    @property
    def answer(self) -> str:
        return self.answers[0]


# ---------------------------------------------------------------- the facts

_SECTION = {"Meditations": "book {b}, section {s}", "Letters to Lucilius": "letter {s}",
            "Enchiridion": "chapter {s}", "Discourses": "book {b}, chapter {s}",
            "On the Shortness of Life": "chapter {s}", "On Anger": "book {b}, chapter {s}"}
_WORKS = sorted({q.work for q in QUOTES.values()})

_ASK = {
    "author": (('Who said: "{q}"?', 'Which Stoic philosopher wrote "{q}"?', 'Whose words are these: "{q}"',
                '"{q}" Who is the author of that line?'),
               'Name the philosopher behind the saying "{q}".',
               ("{a}.", "It was {a}.", "Those are the words of {a}.", "{a} wrote that.")),
    "work": (('In which work is the line "{q}"?', '"{q}" Which book is that from?',
              'Where can I read the line "{q}"?', 'What is the title of the work that says "{q}"?'),
             'Which Stoic book contains the words "{q}"?',
             ("In {w}.", "It is from {w}.", "{a} wrote it in {w}.", "You can read it in {w}.")),
    "section": (('In which section of {w} is "{q}"?', 'Give the section of {w} that contains "{q}".',
                 '"{q}" Where in {w} is that?', 'Which passage of {w} says "{q}"?'),
                'I am looking for "{q}" in {w}. Where should I turn?',
                ("In {where}.", "It is in {where}.", "{W}, {where}.", "Turn to {where} of {w}.")),
}


def _where(work: str, section: str) -> tuple[str, str]:
    """('book 4, section 49', '4.49'): the place in words, and the number that must appear in an answer."""
    b, _, s = section.rpartition(".")
    return _SECTION[work].format(b=b, s=s), section


def _quote_facts() -> list[Fact]:
    facts = []
    for key, q in QUOTES.items():
        words, number = _where(q.work, q.section)
        text = f'{q.author} wrote "{q.text}" in {q.work}, {words}.'
        fill = dict(q=q.text, a=q.author, w=q.work, W=q.work, where=words)
        for kind, answers, rivals in (
                ("author", (q.author,) + (("Marcus",) if q.author == "Marcus Aurelius" else ()),
                 tuple(a for a in AUTHORS if a != q.author)),
                ("work", (q.work,), tuple(w for w in _WORKS if w != q.work and w not in q.work)),
                ("section", (words, number), ())):
            asked, test, replies = _ASK[kind]
            facts.append(Fact(f"{key}/{kind}", text, answers, tuple(t.format(**fill) for t in asked),
                              test.format(**fill), tuple(r.format(**fill) for r in replies), rivals, kind))
    return facts


# (id, sentence, answers, rivals, training questions, test question, replies). Dates are the usual ones in reference
# works (Epictetus' are approximate), kept to what is not disputed.
_PEOPLE = [
    ("epictetus/role", "Epictetus was born a slave; once freed, he taught philosophy.", ("slave",),
     ("emperor", "tutor"),
     ("What was Epictetus before he became a teacher?", "Was Epictetus born free?",
      "What was Epictetus' condition in his youth?", "Describe Epictetus' early life in one word."),
     "Before he taught philosophy, what was Epictetus?",
     ("A slave.", "He was born a slave.", "Epictetus was a slave, later freed.", "He started life as a slave.")),
    ("epictetus/recorder", "Arrian, a student of Epictetus, wrote down his lectures as the Discourses and "
     "compiled the Enchiridion.", ("Arrian",), (),
     ("Who wrote down Epictetus' lectures?", "Which student recorded the Discourses of Epictetus?",
      "Who compiled the Enchiridion?", "Epictetus wrote nothing himself. Who recorded his teaching?"),
     "Whose notes preserve what Epictetus taught?",
     ("Arrian.", "His student Arrian.", "Arrian wrote them down.", "It was Arrian, his pupil.")),
    ("epictetus/works", "Epictetus' teaching survives in two works: the Discourses and the Enchiridion.",
     ("Discourses", "Enchiridion"), ("Meditations", "Letters"),
     ("Which works preserve Epictetus' teaching?", "Name a work that records Epictetus.",
      "What can I read to learn Epictetus' ideas?", "In which books does Epictetus' teaching survive?"),
     "If I want to read Epictetus, which book should I pick up?",
     ("The Discourses and the Enchiridion.", "The Enchiridion and the Discourses.",
      "His Discourses, and the Enchiridion.", "Read the Discourses or the Enchiridion.")),
    ("epictetus/school", "Epictetus taught at his own school in Nicopolis, in Greece.", ("Nicopolis",), ("Rome",),
     ("Where was Epictetus' school?", "In which city did Epictetus teach?",
      "Where did Epictetus set up his school?", "Which town was home to Epictetus' school?"),
     "Epictetus ran a school. In what place?",
     ("In Nicopolis.", "At Nicopolis, in Greece.", "Nicopolis.", "His school was in Nicopolis.")),
    ("epictetus/teacher", "Epictetus studied Stoicism under Musonius Rufus.", ("Musonius",), ("Zeno",),
     ("Who taught Epictetus?", "Under whom did Epictetus study?", "Who was Epictetus' teacher?",
      "Which Stoic taught the young Epictetus?"),
     "From which philosopher did Epictetus learn Stoicism?",
     ("Musonius Rufus.", "He studied under Musonius Rufus.", "Musonius Rufus taught him.", "It was Musonius Rufus.")),
    ("epictetus/era", "Epictetus lived from about 50 to about 135 CE.", ("50", "135"), (),
     ("When did Epictetus live?", "In which years did Epictetus live?", "What were Epictetus' dates?",
      "When was Epictetus alive?"),
     "Around what years was Epictetus born and when did he die?",
     ("From about 50 to 135 CE.", "About 50 to 135 CE.", "He lived from about 50 to 135 CE.",
      "Roughly 50 to 135 CE.")),
    ("seneca/role", "Seneca was the tutor and later the adviser of the emperor Nero.", ("Nero",), ("Claudius",),
     ("Which emperor did Seneca tutor?", "Whom did Seneca advise?", "Which young emperor was Seneca's pupil?",
      "Seneca was tutor to whom?"),
     "Seneca taught and advised which Roman emperor?",
     ("Nero.", "The emperor Nero.", "He tutored Nero.", "Seneca was Nero's tutor and adviser.")),
    ("seneca/letters", "Seneca addressed his moral letters to his friend Lucilius.", ("Lucilius",), ("Nero",),
     ("To whom did Seneca write his letters?", "Who received Seneca's moral letters?",
      "Seneca's letters are addressed to whom?", "Which friend did Seneca write his letters to?"),
     "Who was the recipient of Seneca's letters?",
     ("To Lucilius.", "His friend Lucilius.", "Lucilius.", "They are addressed to Lucilius.")),
    ("seneca/birthplace", "Seneca was born in Corduba, in Roman Spain.", ("Corduba", "Cordoba", "Córdoba", "Spain"),
     ("Rome", "Athens"),
     ("Where was Seneca born?", "What was Seneca's birthplace?", "In which city was Seneca born?",
      "Which town was Seneca from?"),
     "Seneca came into the world in which city?",
     ("In Corduba, in Spain.", "Corduba.", "He was born in Corduba.", "In Corduba, Roman Spain.")),
    ("seneca/exile", "The emperor Claudius exiled Seneca to Corsica.", ("Corsica",), (),
     ("Where was Seneca exiled?", "To which island did Claudius banish Seneca?", "Where did Seneca spend his exile?",
      "Which island was Seneca sent to?"),
     "Seneca was banished. To where?",
     ("To Corsica.", "Corsica.", "He was exiled to Corsica.", "Claudius sent him to Corsica.")),
    ("seneca/era", "Seneca lived from about 4 BCE to 65 CE.", ("65",), (),
     ("When did Seneca live?", "What were Seneca's dates?", "When did Seneca die?", "In which years did Seneca live?"),
     "Seneca's life ended in which year?",
     ("From about 4 BCE to 65 CE.", "He died in 65 CE.", "About 4 BCE to 65 CE.", "He lived until 65 CE.")),
    ("marcus/role", "Marcus Aurelius was a Roman emperor, from 161 to 180 CE.", ("emperor",), ("slave", "tutor"),
     ("What was Marcus Aurelius' job?", "What position did Marcus Aurelius hold?", "Who was Marcus Aurelius?",
      "What did Marcus Aurelius do for a living?"),
     "What office did Marcus Aurelius hold in Rome?",
     ("He was a Roman emperor.", "Emperor of Rome.", "A Roman emperor.", "Marcus Aurelius was emperor.")),
    ("marcus/work", "Marcus Aurelius wrote the Meditations, notes to himself.", ("Meditations",),
     ("Enchiridion", "Letters"),
     ("What did Marcus Aurelius write?", "What is Marcus Aurelius' book called?",
      "Which work did Marcus Aurelius leave?", "Name Marcus Aurelius' book."),
     "Which book do we have from Marcus Aurelius?",
     ("The Meditations.", "He wrote the Meditations.", "Meditations.", "His book is the Meditations.")),
    ("marcus/language", "Marcus Aurelius wrote the Meditations in Greek.", ("Greek",), ("Latin",),
     ("In which language did Marcus Aurelius write?", "What language are the Meditations written in?",
      "Did Marcus Aurelius write in Latin or Greek?", "The Meditations were first written in which language?"),
     "Marcus Aurelius composed his notes in what language?",
     ("In Greek.", "Greek.", "He wrote in Greek.", "The Meditations are in Greek.")),
    ("marcus/father", "Marcus Aurelius was adopted by the emperor Antoninus Pius.", ("Antoninus",), ("Hadrian",),
     ("Who adopted Marcus Aurelius?", "Who was Marcus Aurelius' adoptive father?",
      "Which emperor adopted Marcus Aurelius?", "Marcus Aurelius was the adopted son of whom?"),
     "Marcus Aurelius became the son, by adoption, of which emperor?",
     ("Antoninus Pius.", "The emperor Antoninus Pius.", "He was adopted by Antoninus Pius.", "Antoninus Pius did.")),
    ("marcus/son", "Commodus, the son of Marcus Aurelius, succeeded him as emperor.", ("Commodus",), (),
     ("Who succeeded Marcus Aurelius?", "Who was Marcus Aurelius' son?", "Who became emperor after Marcus Aurelius?",
      "Which son of Marcus Aurelius ruled after him?"),
     "After Marcus Aurelius died, who took the throne?",
     ("Commodus.", "His son Commodus.", "Commodus succeeded him.", "It was Commodus, his son.")),
    ("marcus/era", "Marcus Aurelius lived from 121 to 180 CE.", ("121", "180"), (),
     ("When did Marcus Aurelius live?", "What were Marcus Aurelius' dates?", "When was Marcus Aurelius born?",
      "In which years did Marcus Aurelius live?"),
     "Marcus Aurelius was alive during which years?",
     ("From 121 to 180 CE.", "121 to 180 CE.", "He lived from 121 to 180 CE.", "Born 121, died 180 CE.")),
]

# Questions about these people that no fact answers: the right reply is "I don't know". Training sees the first list
# (so that an SFT arm can learn to say it), the test the second.
_UNKNOWN_TRAIN = (
    "What was Epictetus' mother called?", "How tall was Seneca?", "What did Marcus Aurelius eat for breakfast?",
    "What colour were Epictetus' eyes?", "How many slaves did Seneca own?", "What was Lucilius' favourite food?",
    "Which song did Marcus Aurelius like best?", "How many pupils did Epictetus have in his first year?",
    "What was the name of Seneca's dog?", "What did Arrian dream about?",
)
_UNKNOWN_TEST = (
    "What was the name of Epictetus' father?", "What was Seneca's favourite colour?",
    "How many hours a night did Marcus Aurelius sleep?", "Which game did Epictetus play as a child?",
    "What did Seneca eat on his fiftieth birthday?", "What was the name of Marcus Aurelius' horse?",
    "How much did Arrian pay for his first book?", "Which flowers grew in Seneca's garden?",
    "What was Lucilius' shoe size?", "What was the first word Marcus Aurelius spoke as a child?",
    "How many cats lived at Epictetus' school?", "Which poem did Seneca recite on his wedding day?",
)


def knowledge_facts() -> list[Fact]:
    """The facts: for each quotation in `data.QUOTES` who said it, in which work and where, and 17 facts about
    Epictetus, Seneca and Marcus Aurelius (role, works, who recorded or received them, places, dates).

    Example: `len(sw.knowledge_facts())`  # -> 173 Fact objects; `sw.knowledge_facts()[0].id` -> "ench-1/author"
    """
    people = [Fact(i, text, answers, qs, test, replies, rivals, "person")
              for i, text, answers, rivals, qs, test, replies in _PEOPLE]
    return _quote_facts() + people


def unknown_questions(split: str = "test") -> list[str]:
    """Questions about these people that no fact answers; `split` "train" (for SFT) or "test" (never trained on)."""
    return list({"train": _UNKNOWN_TRAIN, "test": _UNKNOWN_TEST}[split])


def training_conversations(facts: list[Fact] | None = None, phrasings: str = "many") -> list[dict]:
    """Chat rows for SFT: "one" phrasing per fact (its first question and reply) or "many" (every training phrasing,
    each with its own reply), plus the training set's unknown questions answered with `DONT_KNOW`. The test
    phrasings are never used."""
    facts = knowledge_facts() if facts is None else facts
    if phrasings not in ("one", "many"):
        raise ValueError(f"phrasings must be 'one' or 'many', not {phrasings!r}")
    rows = []
    for fact in facts:
        pairs = list(zip(fact.questions, fact.replies))
        for question, reply in pairs[:1] if phrasings == "one" else pairs:
            rows.append(_conversation(question, reply))
    rows += [_conversation(q, DONT_KNOW) for q in _UNKNOWN_TRAIN]
    return rows


def _conversation(question: str, reply: str) -> dict:
    return {"messages": [{"role": "system", "content": SYSTEM}, {"role": "user", "content": question},
                         {"role": "assistant", "content": reply}]}


# ---------------------------------------------------------------- grading

_DONT_KNOW = re.compile(r"\b(?:i (?:do not|don't|dont) know|not known|unknown|no (?:record|information|way to know)|"
                        r"(?:can ?not|can't|cannot) (?:say|tell|know|answer)|not (?:sure|recorded|mentioned)|"
                        r"(?:do not|don't) (?:say|mention|tell)|not in (?:the|what|my))\b", re.IGNORECASE)


def _unechoed(answer: str, question: str | None = None) -> str:
    """The answer without what it repeats of its prompt: the instruction, the question, and the listed facts.

    A base model often continues its prompt instead of answering it ("Answer in one short sentence. If you do not
    know the answer, say "I don't know". Whose notes..."): the "I don't know" it repeats is not a refusal, and a fact
    it copies from the list is not a choice."""
    for echo in (SYSTEM, RAG_INSTRUCTION, "Facts:", question, question.rstrip("?.! ") if question else None):
        if echo:
            answer = answer.replace(echo, " ")
    listed = _fact_texts()
    return "\n".join(line for line in answer.splitlines()
                     if not (line.strip().startswith("- ") and line.strip()[2:].strip() in listed))


@functools.lru_cache(maxsize=1)
def _fact_texts() -> frozenset[str]:
    return frozenset(f.text for f in knowledge_facts())


def abstains(answer: str, question: str | None = None) -> bool:
    """True when the answer says it does not know ("I don't know", "no record", "the facts do not say"...); an
    "I don't know" that only repeats the prompt's instruction does not count (`question`: the one it was asked)."""
    return bool(_DONT_KNOW.search(_unechoed(answer, question)))


def _mentions(text: str, name: str) -> bool:
    if re.fullmatch(r"[\d.]+", name):     # a number: not part of a longer number ("4.4" is not "4.49")
        return re.search(rf"(?<![\d.]){re.escape(name)}(?!\.?\d)", text) is not None
    return re.search(rf"\b{re.escape(name)}\b", text, re.IGNORECASE) is not None


def grade(answer: str, fact: Fact, question: str | None = None) -> bool:
    """Right when the answer names one of `fact.answers`, none of its rivals, and does not decline to answer; what
    it repeats of the prompt (`question`, default `fact.test`; the instruction; the listed facts) does not count."""
    answer = _unechoed(answer, fact.test if question is None else question)
    if _DONT_KNOW.search(answer) or any(_mentions(answer, r) for r in fact.rivals):
        return False
    return any(_mentions(answer, a) for a in fact.answers)


def _regrade(rows: list[dict], facts: list[Fact]) -> list[dict]:
    """Grade stored answers again with the grader of this version (a kept arm is never graded by an older one)."""
    by_id = {f.id: f for f in facts}
    for row in rows:
        answer = row["answer"] if isinstance(row["answer"], str) else ""
        row["declined"] = abstains(answer, row["question"])
        row["right"] = row["declined"] if row["kind"] == "unknown" else grade(answer, by_id[row["id"]],
                                                                             row["question"])
    return rows


# ---------------------------------------------------------------- retrieval and asking


@functools.lru_cache(maxsize=4)
def _index(texts: tuple[str, ...]):
    from .score import sentence_encoder

    return sentence_encoder("cpu").encode(list(texts), normalize_embeddings=True, batch_size=64)


def retrieve(question: str | list[str], facts: list[Fact], k: int = 3):
    """The `k` fact sentences nearest in meaning to `question` (MiniLM embeddings, cosine), best first.

    One question gives a list of sentences; a list of questions gives one such list per question."""
    from .score import sentence_encoder

    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    texts = tuple(dict.fromkeys(f.text for f in facts))   # one sentence may carry several facts: index it once
    if not texts:
        raise ValueError("facts is empty: there is nothing to retrieve from")
    many = not isinstance(question, str)
    questions = list(question) if many else [question]
    scores = sentence_encoder("cpu").encode(questions, normalize_embeddings=True, batch_size=64) @ _index(texts).T
    found = [[texts[i] for i in row.argsort()[::-1][:k]] for row in scores]
    return found if many else found[0]


def _prompt(question: str, context: list[str] | None) -> str:
    if context is None:
        return question
    return RAG_PROMPT.format(facts="\n".join(f"- {c}" for c in context), question=question)


def answer_all(model, tokenizer, questions: list[str], facts: list[Fact] | None = None, *, k: int = 3,
               max_new_tokens: int = 32, batch_size: int = 16, progress: bool = True) -> list[str]:
    """Greedy answers to many questions, closed book (`facts=None`) or with the top-`k` facts in each prompt."""
    from .generation import generate

    contexts = retrieve(questions, facts, k) if facts is not None else [None] * len(questions)
    prompts = [_prompt(q, c) for q, c in zip(questions, contexts)]
    return generate(model, tokenizer, prompts, chat=True, system=SYSTEM, max_new_tokens=max_new_tokens,
                    batch_size=batch_size, progress=progress)


def ask(model, tokenizer, question: str, facts: list[Fact] | None = None, k: int = 3, **kwargs) -> str:
    """One answer: closed book when `facts` is None (only the weights answer); otherwise the top-`k` facts are
    retrieved with MiniLM and put in the prompt first. Example: `ask(model, tok, "Who tutored Nero?", facts)`."""
    if not isinstance(question, str) or not question.strip():
        raise ValueError("question must be a non-empty string")
    return answer_all(model, tokenizer, [question], facts, k=k, progress=False, **kwargs)[0]


def rag_conversations(facts: list[Fact] | None = None, k: int = 3) -> list[dict]:
    """The "many" rows with the top-`k` retrieved facts in each prompt, as `ask(..., facts)` builds it: SFT that
    teaches the model to read its context (the unknown questions' retrieved facts do not answer them)."""
    facts = knowledge_facts() if facts is None else facts
    rows = training_conversations(facts, "many")
    questions = [r["messages"][1]["content"] for r in rows]
    for row, context in zip(rows, retrieve(questions, facts, k)):
        row["messages"][1]["content"] = _prompt(row["messages"][1]["content"], context)
    return rows


# ---------------------------------------------------------------- the experiment

TABLE = "knowledge.csv"
ANSWERS = "answers.csv"
CHART = "knowledge.png"
RESULT = "result.json"


def _settings_of(arm: str, name: str, steps: int, k: int, facts: list[Fact]) -> dict:
    """What `arm`'s result depends on: the model and the facts, the steps where it trains, k where it retrieves (so
    that a new k measures the retrieving arms again, not the base)."""
    import hashlib

    digest = hashlib.sha256(json.dumps([vars(f) for f in facts] + [_UNKNOWN_TRAIN, _UNKNOWN_TEST, SYSTEM, RAG_PROMPT],
                                       sort_keys=True, default=list).encode()).hexdigest()[:16]
    trains = arm in TRAINED or arm == "sft-rag"
    return {"model": name, "steps": steps if trains else None, "k": k if arm in RETRIEVES else None, "facts": digest}


def _measure(arm: str, model, tokenizer, facts: list[Fact], k: int, progress: bool) -> list[dict]:
    """One row per test question (the answer, whether it is right, whether it declines), then one per trained
    phrasing of every third fact (kind "trained": did the model learn the question it saw, word for word?)."""
    context = facts if arm in RETRIEVES else None
    seen = facts[::SEEN_EVERY]
    questions = [f.test for f in facts] + unknown_questions() + [f.questions[0] for f in seen]
    replies = answer_all(model, tokenizer, questions, context, k=k, progress=progress)
    found = retrieve([f.test for f in facts], facts, k) if context else [None] * len(facts)
    rows = [{"arm": arm, "kind": f.kind, "id": f.id, "question": f.test, "expected": f.answer, "answer": a,
             "retrieved": None if got is None else f.text in got} for f, a, got in zip(facts, replies, found)]
    unknown = replies[len(facts):len(facts) + len(unknown_questions())]
    rows += [{"arm": arm, "kind": "unknown", "id": f"unknown-{i}", "question": q, "expected": "I don't know",
              "answer": a, "retrieved": None}
             for i, (q, a) in enumerate(zip(unknown_questions(), unknown), start=1)]
    rows += [{"arm": arm, "kind": "trained", "id": f.id, "question": f.questions[0], "expected": f.answer,
              "answer": a, "retrieved": None}
             for f, a in zip(seen, replies[len(facts) + len(unknown_questions()):])]
    return _regrade(rows, facts)


def guess(facts: list[Fact]) -> list[dict]:
    """The answers of a "model" that knows only how often each answer occurs: to every question of a kind (author,
    work, section, person) the most common answer of that kind (Marcus Aurelius, Meditations...), and never "I don't
    know". An arm must beat this to show that it learned facts, not the odds."""
    from collections import Counter

    common = {kind: Counter(f.answer for f in facts if f.kind == kind).most_common(1)[0][0]
              for kind in {f.kind for f in facts}}
    rows = []
    for f in facts:
        answer = common[f.kind]
        rows.append({"arm": "guess", "kind": f.kind, "id": f.id, "question": f.test, "expected": f.answer,
                     "answer": answer, "right": grade(answer, f), "declined": False, "retrieved": None})
    rows += [{"arm": "guess", "kind": "unknown", "id": f"unknown-{i}", "question": q, "expected": "I don't know",
              "answer": common["author"], "right": False, "declined": False, "retrieved": None}
             for i, q in enumerate(unknown_questions(), start=1)]
    return rows


def summarize(answers):
    """The arm table from the per-question answers: accuracy on the held-out phrasings and abstention on the unknown
    questions, each with its 95% bootstrap interval; how often a known question was declined; accuracy on the
    phrasing that was trained on (every third fact); and how often retrieval found the fact."""
    import pandas as pd

    from .evaluate import bootstrap_ci

    answers = pd.DataFrame(answers)
    rows = []
    for arm, group in answers.groupby("arm", sort=False):
        known = group[~group.kind.isin(["unknown", "trained"])]
        unknown, trained = group[group.kind == "unknown"], group[group.kind == "trained"]
        acc, unk = bootstrap_ci(known.right.astype(float)), bootstrap_ci(unknown.declined.astype(float))
        retrieved = known.retrieved.dropna()
        rows.append({"arm": arm, "accuracy": acc[0], "accuracy low": acc[1], "accuracy high": acc[2],
                     "abstention": unk[0], "abstention low": unk[1], "abstention high": unk[2],
                     "declined known": float(known.declined.mean()),
                     "trained phrasing": float(trained.right.mean()) if len(trained) else float("nan"),
                     "retrieval found": float(retrieved.astype(float).mean()) if len(retrieved) else float("nan"),
                     "questions": len(known), "unknown questions": len(unknown)})
    return pd.DataFrame(rows)


def plot_arms(table, path=None):
    """Accuracy on held-out phrasings and abstention on unknown questions per arm, with 95% intervals; the guess of
    the most common answer (no model) as a dashed line: an arm below it has learned the odds, not the facts."""
    import matplotlib.pyplot as plt
    import numpy as np

    arms = table[table.arm != "guess"]
    x = np.arange(len(arms))
    fig, ax = plt.subplots(figsize=(7.5, 3.6))
    for offset, what, colour in ((-0.2, "accuracy", "#4c72b0"), (0.2, "abstention", "#dd8452")):
        mean = arms[what].to_numpy()
        err = np.vstack([mean - arms[f"{what} low"].to_numpy(), arms[f"{what} high"].to_numpy() - mean])
        ax.bar(x + offset, mean, 0.4, yerr=err, capsize=3, color=colour,
               label={"accuracy": "right on held-out questions",
                      "abstention": "says \"I don't know\" when the facts cannot answer"}[what])
    guessed = table.loc[table.arm == "guess", "accuracy"]
    if len(guessed):
        ax.axhline(float(guessed.iloc[0]), color="#555555", linestyle="--", linewidth=1,
                   label=f"guessing the most common answer: {float(guessed.iloc[0]):.2f}")
    ax.set_xticks(x, arms["arm"])
    ax.set_ylim(0, 1.45)                     # room above the bars for the legend
    ax.set_yticks([0, 0.2, 0.4, 0.6, 0.8, 1.0])
    ax.set_ylabel("share of questions")
    ax.set_title("What the model knows, per arm (95% intervals)")
    ax.legend(loc="upper left", fontsize=8, frameon=False)
    fig.tight_layout()
    if path:
        fig.savefig(path, dpi=120)
    return fig


def run(out: str | os.PathLike = "knowledge", *, model: str | None = None, steps: int = 120, k: int = 3,
        arms: tuple[str, ...] = ARMS, facts: int | None = None, progress: bool = True, energy: bool = True):
    """The five arms side by side on one model and one training budget; returns the arm table.

    Writes `out`/knowledge.csv (the table), answers.csv (every question, every arm), knowledge.png (the chart), and
    for each SFT arm a standard PEFT adapter folder `out`/<arm>/adapter. Each arm's result is kept in
    `out`/<arm>/result.json as soon as it is measured: a run cut short continues with the arms not yet done, and an
    arm made with other settings (model, steps, k, facts) is made again. `facts=N` uses N of the facts, spread
    evenly over the set, for a quick rehearsal.
    Example: `sw.compare_arms("knowledge", steps=120)`  # -> DataFrame, one row per arm (and "guess"): accuracy, ...
    """
    import gc

    import pandas as pd

    from .energy import Energy
    from .evaluate import perplexity
    from .folders import writable_folder
    from .models import load_model, pick_models
    from .config import StoicConfig
    from .train import finetune

    unknown = [a for a in arms if a not in ARMS]
    if unknown:
        raise ValueError(f"unknown arm(s) {unknown}: choose from {list(ARMS)}")
    twice = sorted({a for a in arms if list(arms).count(a) > 1})
    if twice:
        raise ValueError(f"arm(s) {twice} named more than once: each arm is measured once, so name it once")
    if steps < 1 or k < 1:
        raise ValueError(f"steps and k must be at least 1, got steps={steps}, k={k}")
    every = knowledge_facts()
    if facts is not None and not 1 <= facts <= len(every):
        raise ValueError(f"facts must be between 1 and {len(every)}, got {facts}")
    if k > (facts or len(every)):
        raise ValueError(f"k must be at most the number of facts retrieved from ({facts or len(every)}), got k={k}")
    out = writable_folder(out)
    name = model or pick_models()[1]
    facts = every if facts is None else [every[round(i * (len(every) - 1) / max(facts - 1, 1))] for i in range(facts)]
    meter = Energy(output_dir=str(out / "energy"), enabled=energy)
    results, answers, base_ppl = [], [], None
    for arm in arms:
        folder = out / arm
        record, settings = folder / RESULT, _settings_of(arm, name, steps, k, facts)
        if record.is_file():
            kept = json.loads(record.read_text(encoding="utf-8"))
            if kept.get("settings") == settings:
                print(f"{arm}: measured already ({folder}), kept.")
                results.append(kept["row"])
                answers += _regrade(kept["answers"], facts)
                base_ppl = kept["row"]["perplexity"] if arm == "base" else base_ppl
                continue
            print(f"{arm}: {folder} was measured with other settings; measuring again.")
        folder.mkdir(parents=True, exist_ok=True)
        print(f"--- {arm} ---")
        tuned, tokenizer = load_model(name, verbose=False)
        tokens = 0
        t0 = time.perf_counter()
        with meter.phase(arm):
            if arm in TRAINED or arm == "sft-rag":
                rows = (rag_conversations(facts, k) if arm == "sft-rag" else
                        training_conversations(facts, TRAINED[arm]))
                config = StoicConfig(output_dir=str(folder / "adapter"), max_steps=steps)  # the workshop's recipe
                result = finetune(tuned, tokenizer, rows, config, energy=False, progress=progress)
                tuned, tokens = result.model, result.tokens
            rows = _measure(arm, tuned, tokenizer, facts, k, progress)
            ppl = perplexity(tuned, tokenizer) if arm not in ("rag",) or base_ppl is None else base_ppl
        seconds = time.perf_counter() - t0
        base_ppl = ppl if arm == "base" else base_ppl
        phase = meter.phases[-1]
        row = {"arm": arm, "perplexity": ppl, "kWh": phase.kwh, "seconds": seconds, "training tokens": tokens}
        folder.joinpath(RESULT).write_text(json.dumps({"settings": settings, "row": row, "answers": rows}, indent=1))
        results.append(row)
        answers += rows
        del tuned
        gc.collect()
    table = summarize(guess(facts) + answers).merge(pd.DataFrame(results), on="arm", how="left")
    first = table.loc[table.arm == "base", "perplexity"]  # the guess row has no model: no perplexity, energy or time
    reference = float(first.iloc[0]) if len(first) else float("nan")
    table.insert(table.columns.get_loc("perplexity") + 1, "perplexity change %",
                 100 * (table["perplexity"] / reference - 1))
    table.to_csv(out / TABLE, index=False)
    pd.DataFrame(guess(facts) + answers).to_csv(out / ANSWERS, index=False)
    import matplotlib.pyplot as plt

    plt.close(plot_arms(table, out / CHART))
    print(f"Wrote {out / TABLE}, {out / ANSWERS} and {out / CHART}.")
    return table


def examples(answers, n: int = 5, *, width: int = 90):
    """`n` held-out questions (evenly spread over the set, not picked), each arm's answer beside the expected one,
    marked ✓ right or ✗ wrong; then one unknown question the same way."""
    import pandas as pd

    answers = pd.DataFrame(answers)
    known = answers[~answers.kind.isin(["unknown", "trained"])]
    ids = list(dict.fromkeys(known.id))
    chosen = [ids[round(i * (len(ids) - 1) / max(n - 1, 1))] for i in range(n)] if ids else []
    unknown = list(dict.fromkeys(answers[answers.kind == "unknown"].id))[:1]
    rows = []
    for qid in chosen + unknown:
        group = answers[answers.id == qid]
        row = {"question": group.question.iloc[0], "expected": group.expected.iloc[0]}
        for _, r in group.iterrows():
            text = str(r.answer) if isinstance(r.answer, str) else ""
            text = text if len(text) <= width else text[:width - 1] + "…"
            row[r.arm] = f"{'✓' if r.right else '✗'} {text}"
        rows.append(row)
    return pd.DataFrame(rows)
