"""Hand-written complaint -> Stoic reply pairs for the fine-tuning workshop.

A small model fine-tuned on templated replies learns the template, not the philosophy,
so every reply below was written individually, varies in structure, and is grounded in one
named Stoic idea. Replies credit ideas in plain words and never quote: "Epictetus opens his
handbook by sorting things into what is within our control and what is not", never "Epictetus
wrote: '...'". A small model learns the form of a quotation (name, colon, quote marks, maxim)
and not the quotations, so trained on quoting replies it fills the quote marks with invented
words. The ``QUOTES`` table stays, each passage with its exact source and translation, as
reference material: for checking quotations (``quotes.check_quotes``) and for knowledge
exercises. A row may still name a table key and put its quotation in the reply through the
``{q}`` slot (and learners' own data may carry quote and source fields, which
``validate_pair`` checks), but no built-in row does.
Everything is deterministic and standard-library only, so workshop runs are reproducible
and the output can be wrapped into any dataset format later.
"""

import random
import re
from typing import NamedTuple

AREAS = [
    "work",
    "commuting",
    "money",
    "health",
    "relationships",
    "technology",
    "weather_travel",
    "social_media",
    "study",
    "ageing_loss",
    "home",
]

IDEAS = {
    "dichotomy_of_control": (
        "Some things are up to us (our judgments, intentions and actions) and some are not, "
        "so we put our effort only into the first kind."
    ),
    "virtue_only_good": (
        "Good character (wisdom, justice, courage and self-control) is the only true good, "
        "and nobody can take it from us."
    ),
    "living_according_to_nature": (
        "Humans are rational, social animals, so a good life works with our bodies, the "
        "seasons and our bonds to other people rather than against them."
    ),
    "reason_over_passion": (
        "Strong emotions grow from hasty judgments, so we pause and examine the judgment "
        "before acting on the feeling."
    ),
    "preferred_indifferents": (
        "Health, money and comfort are reasonable to prefer, but they don't make us good or "
        "bad, and our calm shouldn't depend on them."
    ),
    "amor_fati": (
        "Accept, and even welcome, what has actually happened, and treat it as the material "
        "you now get to work with."
    ),
    "memento_mori": (
        "Remembering that life is short and death certain stops us wasting time and shows "
        "what matters now."
    ),
    "view_from_above": (
        "Picturing a trouble from a great height or across a whole lifetime shrinks it back "
        "to its real size."
    ),
    "premeditatio_malorum": (
        "Rehearsing likely setbacks in advance takes away their shock and lets us prepare "
        "practical responses."
    ),
}

AUTHORS = ("Epictetus", "Seneca", "Marcus Aurelius")
QUOTE_SLOT = "{q}"
MIN_WORDS, MAX_WORDS = 40, 120
FIELDS = ("id", "area", "idea", "complaint", "reply", "quote", "source")
CHAT_MARKUP = re.compile(r"<\|[^>]*\|>|<(?:start|end)_of_turn>|<bos>|<eos>|</?s>|\[/?INST\]")
_WORD = re.compile(r"\w+(?:'\w+)*")


class Quote(NamedTuple):
    author: str
    work: str
    section: str
    translation: str
    text: str

    @property
    def source(self) -> str:
        return f"{self.author}, {self.work} {self.section} ({self.translation})"


def make_pairs(n=None, seed=3407):
    """Shuffle with a private RNG so that callers' global random state never changes the data."""
    pairs = _all_pairs()
    if n is None:
        n = len(pairs)
    if not 0 <= n <= len(pairs):
        raise ValueError(f"asked for {n} pairs but only {len(pairs)} exist")
    random.Random(seed).shuffle(pairs)
    return pairs[:n]


def to_messages(pair, system=None):
    """Chat-format one pair; the tokenizer's template adds any model-specific markup later."""
    messages = [{"role": "system", "content": system}] if system else []
    messages.append({"role": "user", "content": pair["complaint"]})
    messages.append({"role": "assistant", "content": pair["reply"]})
    return {"messages": messages}


def split(pairs, eval_fraction=0.1, seed=3407):
    """Split by normalised complaint so near-identical prompts cannot leak into evaluation."""
    if not 0 < eval_fraction < 1:
        raise ValueError(f"eval_fraction must be between 0 and 1, got {eval_fraction}")
    complaints = sorted({_normalise(p["complaint"]) for p in pairs})
    if len(complaints) < 2:
        raise ValueError(f"need at least 2 distinct complaints to split, got {len(complaints)}")
    random.Random(seed).shuffle(complaints)
    n_eval = min(len(complaints) - 1, max(1, round(len(complaints) * eval_fraction)))
    held_out = set(complaints[:n_eval])
    train = [p for p in pairs if _normalise(p["complaint"]) not in held_out]
    evaluation = [p for p in pairs if _normalise(p["complaint"]) in held_out]
    return train, evaluation


def eval_prompts():
    """Return a fresh list so callers can't mutate the held-out set."""
    return [prompt for prompts in _EVAL_PROMPTS.values() for prompt in prompts]


def diversity(replies):
    """Numbers that fall sharply when a model (or a data generator) collapses onto a template."""
    token_lists = [_words(reply) for reply in replies]
    stats = {f"distinct_{n}": _distinct_ratio(token_lists, n) for n in (1, 2, 3)}
    run = _longest_shared_run(token_lists)
    stats["longest_shared_words"] = len(run)
    stats["longest_shared_example"] = " ".join(run)
    return stats


def validate_pair(pair, row=None):
    """Fail loudly, naming the row and field, so a bad edit is found before training."""
    where = _describe(pair, row)
    for field in FIELDS:
        if field not in pair:
            raise ValueError(f"{where}: missing field '{field}'")
    for field in ("id", "area", "idea", "complaint", "reply"):
        value = pair[field]
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"{where}: field '{field}' must be non-empty text, got {value!r}")
    if pair["area"] not in AREAS:
        raise ValueError(f"{where}: field 'area' must be one of {AREAS}, got {pair['area']!r}")
    if pair["idea"] not in IDEAS:
        raise ValueError(
            f"{where}: field 'idea' must be one of {list(IDEAS)}, got {pair['idea']!r}"
        )
    n_words = len(_words(pair["reply"]))
    if not MIN_WORDS <= n_words <= MAX_WORDS:
        raise ValueError(
            f"{where}: field 'reply' must have {MIN_WORDS}-{MAX_WORDS} words, got {n_words}"
        )
    for field in ("complaint", "reply"):
        markup = CHAT_MARKUP.search(pair[field])
        if markup:
            raise ValueError(
                f"{where}: field '{field}' must not contain chat markup, found {markup.group()!r}"
            )
    _validate_quote(pair, where)


def _validate_quote(pair, where):
    quote, source = pair["quote"], pair["source"]
    if quote is None and source is None:
        return
    if not quote or not source:
        raise ValueError(
            f"{where}: fields 'quote' and 'source' must both be set or both be None, "
            f"got quote={quote!r}, source={source!r}"
        )
    if not source.startswith(AUTHORS):
        raise ValueError(
            f"{where}: field 'source' must start with one of {list(AUTHORS)}, got {source!r}"
        )
    if quote not in pair["reply"]:
        raise ValueError(f"{where}: field 'reply' must contain its quote {quote!r} verbatim")


def _all_pairs():
    """Build fresh dicts on every call so callers may edit what they get back."""
    pairs = []
    for area, rows in _ROWS.items():
        for number, (idea, complaint, reply, quote_key) in enumerate(rows, start=1):
            quote = QUOTES[quote_key] if quote_key else None
            pairs.append({
                "id": f"{area}-{number:03d}",
                "area": area,
                "idea": idea,
                "complaint": complaint,
                "reply": reply.replace(QUOTE_SLOT, f'"{quote.text}"') if quote else reply,
                "quote": quote.text if quote else None,
                "source": quote.source if quote else None,
            })
    return pairs


def _describe(pair, row):
    pair_id = pair.get("id", "?")
    return f"row {row} (id {pair_id!r})" if row is not None else f"pair {pair_id!r}"


def _normalise(text):
    return " ".join(text.lower().split())


def _words(text):
    return _WORD.findall(text.lower())


def _ngrams(tokens, n):
    return [tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1)]


def _distinct_ratio(token_lists, n):
    grams = [gram for tokens in token_lists for gram in _ngrams(tokens, n)]
    return len(set(grams)) / len(grams) if grams else 0.0


def _longest_shared_run(token_lists):
    """Binary search on run length: a shared run of k words implies a shared run of k - 1."""
    best, low, high = (), 0, max(map(len, token_lists), default=0)
    while low < high:
        length = (low + high + 1) // 2
        run = _shared_ngram(token_lists, length)
        if run:
            best, low = run, length
        else:
            high = length - 1
    return best


def _shared_ngram(token_lists, n):
    """Return one n-gram found in two different replies, or () if there is none."""
    first_seen = {}
    for index, tokens in enumerate(token_lists):
        for gram in _ngrams(tokens, n):
            if first_seen.setdefault(gram, index) != index:
                return gram
    return ()


# Each quotation exactly as printed in the named translation; a few are one clause of a longer
# sentence. Seneca's letters are cited by letter number only.
QUOTES = {
    "ench-1": Quote(
        "Epictetus", "Enchiridion", "1", "tr. George Long",
        "Of things some are in our power, and others are not.",
    ),
    "ench-5": Quote(
        "Epictetus", "Enchiridion", "5", "tr. George Long",
        "Men are disturbed not by the things which happen, but by the opinions about the things.",
    ),
    "ench-8": Quote(
        "Epictetus", "Enchiridion", "8", "tr. George Long",
        "Seek not that the things which happen should happen as you wish; but wish the things "
        "which happen to be as they are, and you will have a tranquil flow of life.",
    ),
    "ench-9": Quote(
        "Epictetus", "Enchiridion", "9", "tr. George Long",
        "Disease is an impediment to the body, but not to the will, unless the will itself "
        "chooses.",
    ),
    "ench-11": Quote(
        "Epictetus", "Enchiridion", "11", "tr. T. W. Higginson",
        "Never say of anything, 'I have lost it,' but, 'I have restored it.'",
    ),
    "ench-13": Quote(
        "Epictetus", "Enchiridion", "13", "tr. T. W. Higginson",
        "If you would improve, be content to be thought foolish and dull with regard to "
        "externals.",
    ),
    "ench-17": Quote(
        "Epictetus", "Enchiridion", "17", "tr. T. W. Higginson",
        "For this is your business—to act well the given part, but to choose it belongs to "
        "another.",
    ),
    "ench-20": Quote(
        "Epictetus", "Enchiridion", "20", "tr. T. W. Higginson",
        "Remember that it is not he who gives abuse or blows, who affronts, but the view we "
        "take of these things as insulting.",
    ),
    "ench-21": Quote(
        "Epictetus", "Enchiridion", "21", "tr. T. W. Higginson",
        "Let death and exile, and all other things which appear terrible, be daily before your "
        "eyes, but death chiefly; and you will never entertain an abject thought, nor too "
        "eagerly covet anything.",
    ),
    "ench-43": Quote(
        "Epictetus", "Enchiridion", "43", "tr. Elizabeth Carter",
        "Everything has two handles, the one by which it may be borne, the other by which it "
        "cannot.",
    ),
    "disc-1.1": Quote(
        "Epictetus", "Discourses", "1.1", "tr. George Long",
        "I must die. Must I then die lamenting?",
    ),
    "disc-1.15": Quote(
        "Epictetus", "Discourses", "1.15", "tr. Elizabeth Carter, rev. T. W. Higginson",
        "No great thing is created suddenly, any more than a bunch of grapes or a fig.",
    ),
    "ep-1-postpone": Quote(
        "Seneca", "Letters to Lucilius", "1", "tr. Richard M. Gummere",
        "While we are postponing, life speeds by.",
    ),
    "ep-1-time": Quote(
        "Seneca", "Letters to Lucilius", "1", "tr. Richard M. Gummere",
        "Nothing, Lucilius, is ours, except time.",
    ),
    "ep-2-everywhere": Quote(
        "Seneca", "Letters to Lucilius", "2", "tr. Richard M. Gummere",
        "Everywhere means nowhere.",
    ),
    "ep-2-poor": Quote(
        "Seneca", "Letters to Lucilius", "2", "tr. Richard M. Gummere",
        "It is not the man who has too little, but the man who craves more, that is poor.",
    ),
    "ep-12": Quote(
        "Seneca", "Letters to Lucilius", "12", "tr. Richard M. Gummere",
        "Let us cherish and love old age; for it is full of pleasure if one knows how to use it.",
    ),
    "ep-13": Quote(
        "Seneca", "Letters to Lucilius", "13", "tr. Richard M. Gummere",
        "We suffer more often in imagination than in reality.",
    ),
    "ep-18": Quote(
        "Seneca", "Letters to Lucilius", "18", "tr. Richard M. Gummere",
        "Is this the condition that I feared?",
    ),
    "ep-28": Quote(
        "Seneca", "Letters to Lucilius", "28", "tr. Richard M. Gummere",
        "You need a change of soul rather than a change of climate.",
    ),
    "ep-63-weep": Quote(
        "Seneca", "Letters to Lucilius", "63", "tr. Richard M. Gummere",
        "We may weep, but we must not wail.",
    ),
    "ep-63-memory": Quote(
        "Seneca", "Letters to Lucilius", "63", "tr. Richard M. Gummere",
        "Let us see to it that the recollection of those whom we have lost becomes a pleasant "
        "memory to us.",
    ),
    "ep-78": Quote(
        "Seneca", "Letters to Lucilius", "78", "tr. Richard M. Gummere",
        "A man is as wretched as he has convinced himself that he is.",
    ),
    "brev-1": Quote(
        "Seneca", "On the Shortness of Life", "1", "tr. John W. Basore",
        "It is not that we have a short space of time, but that we waste much of it.",
    ),
    "ira-2.29": Quote(
        "Seneca", "On Anger", "2.29", "rendering of the Latin 'maximum remedium irae mora est'",
        "The greatest remedy for anger is delay.",
    ),
    "med-2.1-morning": Quote(
        "Marcus Aurelius", "Meditations", "2.1", "tr. George Long",
        "Begin the morning by saying to thyself, I shall meet with the busy-body, the "
        "ungrateful, arrogant, deceitful, envious, unsocial.",
    ),
    "med-2.1-cooperation": Quote(
        "Marcus Aurelius", "Meditations", "2.1", "tr. George Long",
        "For we are made for co-operation, like feet, like hands, like eyelids, like the rows "
        "of the upper and lower teeth.",
    ),
    "med-2.11": Quote(
        "Marcus Aurelius", "Meditations", "2.11", "tr. George Long",
        "Since it is possible that thou mayest depart from life this very moment, regulate "
        "every act and thought accordingly.",
    ),
    "med-2.14": Quote(
        "Marcus Aurelius", "Meditations", "2.14", "tr. George Long",
        "the present is the only thing of which a man can be deprived",
    ),
    "med-4.3": Quote(
        "Marcus Aurelius", "Meditations", "4.3", "tr. George Long",
        "The universe is transformation: life is opinion.",
    ),
    "med-4.7": Quote(
        "Marcus Aurelius", "Meditations", "4.7", "tr. George Long",
        "Take away thy opinion, and then there is taken away the complaint, 'I have been "
        "harmed.' Take away the complaint, 'I have been harmed,' and the harm is taken away.",
    ),
    "med-4.17": Quote(
        "Marcus Aurelius", "Meditations", "4.17", "tr. George Long",
        "Do not act as if thou wert going to live ten thousand years. Death hangs over thee. "
        "While thou livest, while it is in thy power, be good.",
    ),
    "med-4.18": Quote(
        "Marcus Aurelius", "Meditations", "4.18", "tr. George Long",
        "How much trouble he avoids who does not look to see what his neighbour says or does or "
        "thinks",
    ),
    "med-4.23": Quote(
        "Marcus Aurelius", "Meditations", "4.23", "tr. George Long",
        "Everything harmonizes with me, which is harmonious to thee, O Universe.",
    ),
    "med-4.49": Quote(
        "Marcus Aurelius", "Meditations", "4.49", "tr. George Long",
        "Be like the promontory against which the waves continually break, but it stands firm "
        "and tames the fury of the water around it.",
    ),
    "med-5.1": Quote(
        "Marcus Aurelius", "Meditations", "5.1", "tr. George Long",
        "In the morning when thou risest unwillingly, let this thought be present—I am rising "
        "to the work of a human being.",
    ),
    "med-5.16": Quote(
        "Marcus Aurelius", "Meditations", "5.16", "tr. George Long",
        "Such as are thy habitual thoughts, such also will be the character of thy mind; for "
        "the soul is dyed by the thoughts.",
    ),
    "med-5.18": Quote(
        "Marcus Aurelius", "Meditations", "5.18", "tr. George Long",
        "Nothing happens to any man which he is not formed by nature to bear.",
    ),
    "med-5.20": Quote(
        "Marcus Aurelius", "Meditations", "5.20", "tr. Gregory Hays",
        "The impediment to action advances action. What stands in the way becomes the way.",
    ),
    "med-6.6": Quote(
        "Marcus Aurelius", "Meditations", "6.6", "tr. George Long",
        "The best way of avenging thyself is not to become like the wrong doer.",
    ),
    "med-6.21": Quote(
        "Marcus Aurelius", "Meditations", "6.21", "tr. George Long",
        "If any man is able to convince me and show me that I do not think or act right, I will "
        "gladly change; for I seek the truth, by which no man was ever injured.",
    ),
    "med-7.8": Quote(
        "Marcus Aurelius", "Meditations", "7.8", "tr. George Long",
        "Let not future things disturb thee, for thou wilt come to them, if it shall be "
        "necessary, having with thee the same reason which now thou usest for present things.",
    ),
    "med-7.59": Quote(
        "Marcus Aurelius", "Meditations", "7.59", "tr. George Long",
        "Look within. Within is the fountain of good, and it will ever bubble up, if thou wilt "
        "ever dig.",
    ),
    "med-7.69": Quote(
        "Marcus Aurelius", "Meditations", "7.69", "tr. George Long",
        "The perfection of moral character consists in this, in passing every day as the last",
    ),
    "med-8.36": Quote(
        "Marcus Aurelius", "Meditations", "8.36", "tr. George Long",
        "Do not disturb thyself by thinking of the whole of thy life.",
    ),
    "med-8.47": Quote(
        "Marcus Aurelius", "Meditations", "8.47", "tr. George Long",
        "If thou art pained by any external thing, it is not this thing that disturbs thee, but "
        "thy own judgment about it.",
    ),
    "med-8.50": Quote(
        "Marcus Aurelius", "Meditations", "8.50", "tr. George Long",
        "A cucumber is bitter—Throw it away.",
    ),
    "med-9.30": Quote(
        "Marcus Aurelius", "Meditations", "9.30", "tr. George Long",
        "Look down from above on the countless herds of men",
    ),
    "med-9.42": Quote(
        "Marcus Aurelius", "Meditations", "9.42", "tr. George Long",
        "When thou art offended with any man's shameless conduct, immediately ask thyself, Is "
        "it possible, then, that shameless men should not be in the world? It is not possible.",
    ),
    "med-10.16": Quote(
        "Marcus Aurelius", "Meditations", "10.16", "tr. George Long",
        "No longer talk at all about the kind of man that a good man ought to be, but be such.",
    ),
    "med-12.4": Quote(
        "Marcus Aurelius", "Meditations", "12.4", "tr. George Long",
        "I have often wondered how it is that every man loves himself more than all the rest of "
        "men, but yet sets less value on his own opinion of himself than on the opinion of "
        "others.",
    ),
    "med-11.18": Quote(
        "Marcus Aurelius", "Meditations", "11.18", "tr. George Long",
        "consider how much more pain is brought on us by the anger and vexation caused by such "
        "acts than by the acts themselves",
    ),
}

# area -> rows of (idea, complaint, reply, quote key or None), in stable id order. Every built-in
# row has None: replies credit ideas in plain words and never quote (see the module docstring).
_ROWS = {
    "work": [
        (
            "dichotomy_of_control",
            "My boss ignored my email for the third time this week.",
            "Three unanswered emails would sting anyone. Epictetus opens his handbook by sorting "
            "things into two piles, what is within our control and what is not. Your boss's inbox "
            "sits firmly in the second pile. What sits in the first? How clearly you write, whether "
            "you follow up, and whether you ask for five minutes in person tomorrow. Send one "
            "short, friendly message with a single question in the subject line, then let the "
            "outcome belong to him.",
            None,
        ),
        (
            "reason_over_passion",
            "A coworker took credit for my idea in front of the whole team and I'm still fuming.",
            "Before you fire off a reply-all, sleep on it. Seneca wrote a whole book on anger, and "
            "the greatest remedy he found in it was simply delay. Tomorrow, with a cooler head, you "
            "can mention to your manager that the proposal started in your notes from last month, "
            "and bring the notes. Anger wants a scene; reason wants the record set straight. Only "
            "one of them will actually help you.",
            None,
        ),
        (
            "premeditatio_malorum",
            "I have a performance review on Friday and I can't stop imagining it going badly.",
            "Imagining it going badly isn't the problem; imagining it vaguely is. Take ten minutes "
            "and write the worst realistic version: which criticism might come, what you would say, "
            "what you'd do next month. Then look at the page. It is usually survivable, and now you "
            "have a plan. Seneca once pointed out to his friend Lucilius that what we imagine hurts "
            "us more often than what actually happens. Rehearse it once, on purpose, and then stop "
            "rehearsing.",
            None,
        ),
        (
            "virtue_only_good",
            "I got passed over for promotion and the person who got it does half the work I do.",
            "That hurts, and it may well be unfair. But look at what was actually taken from "
            "you: a title and a pay band. Your competence, your honesty, the care you put into "
            "your work—none of it moved to the other person's desk. The Stoics would say those "
            "were the only things that were ever really yours. Keep working well because that's "
            "who you are, and meanwhile ask plainly what the next promotion would require. If "
            "the answer is nonsense, that tells you where to spend your good years.",
            None,
        ),
        (
            "memento_mori",
            "I'm working weekends again and missing my kids' football matches.",
            "Ask yourself a blunt question: when you're old, which Saturdays will you wish you had "
            "back? Seneca thought most of us aren't short of life at all; in his view, the trouble "
            "is how much of it we waste. The job will absorb every hour you hand it and never say "
            "thank you. Pick one match this month, put it in your calendar as a meeting, and "
            "decline anything that overlaps. Your children are young for a very limited number of "
            "seasons.",
            None,
        ),
        (
            "view_from_above",
            "I made a typo in a client presentation and I'm mortified.",
            "Picture that meeting from a great height: one room, in one building, on a planet "
            "where millions of slides were shown today. Your typo is one character among "
            "billions. The client has almost certainly forgotten it; you're the only person "
            "still replaying it. Send the corrected deck with a one-line note, adopt the "
            "checking habit that would have caught it, and let the moment shrink back to its "
            "real size.",
            None,
        ),
        (
            "preferred_indifferents",
            "My salary is lower than my friends' and I feel like a failure.",
            "Money is what the Stoics called a preferred indifferent: sensible to want, fine to "
            "pursue honestly, but no measure of a person. A bigger salary doesn't make anyone "
            "braver, kinder or fairer, and a smaller one doesn't make you less. If you want "
            "more pay, go after it—ask, retrain, negotiate. Just don't let a payslip decide "
            "whether you're a success. What would you be proud of in your work if nobody ever "
            "saw the figure?",
            None,
        ),
        (
            "amor_fati",
            "I was made redundant after eight years and I don't know what to do next.",
            "Eight years is a long time, and grieving it is fair. In his Meditations, Marcus "
            "Aurelius noted that an obstacle to action can end up moving the action forward, so "
            "that whatever blocks the road becomes the road. Once accepted, this upheaval becomes "
            "the material you get to work with. What did you love in that job that you could now "
            "seek deliberately? What did you tolerate that you never have to again? Start with one "
            "conversation this week with someone whose work you admire.",
            None,
        ),
        (
            "premeditatio_malorum",
            "Every morning I dread dealing with the rude people in my office.",
            "Marcus Aurelius, an emperor with far worse colleagues than yours, began each day by "
            "telling himself that he would meet meddling, ungrateful, arrogant and unsociable "
            "people before evening. It sounds gloomy, but it works like a vaccination. Once you "
            "expect rudeness, it stops ambushing you, and you can meet it with patience instead of "
            "shock. He goes on to say that such people act from ignorance, and that we were made to "
            "work together anyway. Try the same reminder tomorrow before you open your laptop.",
            None,
        ),
        (
            "living_according_to_nature",
            "I can't drag myself out of bed for work on Monday mornings.",
            "You're in good company. Marcus Aurelius argued with his own blankets in writing, "
            "reminding himself on reluctant mornings that he was getting up to do the work of a "
            "human being. Humans are social creatures, built to be useful to each other, and on a "
            "grey Monday your job is simply your share of that. It may help to name one person your "
            "work helps today, even in a small way. Then put your feet on the floor before you "
            "finish the thought.",
            None,
        ),
        (
            "dichotomy_of_control",
            "Our team's project got cancelled after six months of work.",
            "Six months of effort gone feels like a theft. But the decision to cancel was never "
            "yours; the effort was. What you learned, the skills you built, the way you treated "
            "your teammates under pressure—none of that was cancelled with the budget line. "
            "Spend an afternoon writing down what you'd reuse from the project and keep a copy "
            "somewhere safe. Then let yourself be disappointed for a bit, honestly, and turn "
            "toward whatever comes next.",
            None,
        ),
        (
            "reason_over_passion",
            "My manager criticised my report in front of everyone and I want to quit on the "
            "spot.",
            "Quitting in a hot moment is a decision made by the sting, not by you. First separate "
            "two questions: was the criticism right, and was the setting fair? On the first, Marcus "
            "Aurelius was humble. He wrote that he would gladly change if anyone could show him he "
            "was thinking or acting wrongly, since nobody was ever harmed by the truth. If some of "
            "the points were true, take them and improve the report. As for the public delivery, "
            "raise it privately and calmly next week. You can always resign later, with a clearer "
            "head.",
            None,
        ),
        (
            "virtue_only_good",
            "I've been asked to fudge some numbers in a report to make our quarter look better.",
            "This is one of those moments the Stoics trained for. A good quarter is pleasant; your "
            "integrity is the only thing here that is actually good. Say calmly that you're not "
            "comfortable changing the figures, suggest how the real numbers could be explained "
            "honestly, and keep a written note of the request. You may pay a price, but you won't "
            "have sold yourself. Marcus Aurelius once told himself to stop discussing what a good "
            "person should be like and simply be one. That reminder fits your desk today.",
            None,
        ),
        (
            "view_from_above",
            "I'm so stressed about a deadline that I haven't slept properly in days.",
            "At three in the morning your mind is trying to carry the entire project at once. "
            "Marcus Aurelius warned himself against exactly that habit of upsetting himself by "
            "picturing his whole life in one go. Shrink it to today's piece. Write the next three "
            "concrete tasks on a card, do the first, and stop work at a set hour tonight. Seen from "
            "the span of a whole career, this crunch is one week among hundreds; sleep is what will "
            "get you through it intact.",
            None,
        ),
        (
            "amor_fati",
            "They moved our office across town and now my whole lunch break is spent walking.",
            "Suppose this were exactly the arrangement you'd have chosen. What would you do "
            "with it? A daily walk is something people pay gym memberships to force themselves "
            "into. Take the long way past a park, ring a friend, or listen to that podcast you "
            "never have time for. Loving your fate, as the Stoics put it, doesn't mean "
            "pretending the move was clever. It means meeting the new route with curiosity "
            "rather than a grudge.",
            None,
        ),
        (
            "amor_fati",
            "I'm stuck in a junior role I didn't choose while my friends all have exciting jobs.",
            "Epictetus compared life to a play in which we don't get to cast ourselves. In his "
            "view, choosing the part belongs to someone else, and our business is to act the given "
            "part well. That can sound like resignation, but it's really an invitation: whatever "
            "the part, play it so well that people notice. Learn everything the junior role can "
            "teach you, be the colleague others rely on, and keep a list of what you'd like to move "
            "toward. Parts change. Excellent actors tend to get offered better ones.",
            None,
        ),
    ],
    "commuting": [
        (
            "dichotomy_of_control",
            "Stuck in traffic again and I'm going to be late for my daughter's recital.",
            "Right now the traffic is like the weather: you can't argue it out of the way. What "
            "you can do is send a quick message, once you've pulled over safely, so someone "
            "saves your seat or films the opening. Then breathe and drive well. Your daughter "
            "will remember whether you arrived warm or furious far longer than the minute you "
            "walked in. Spend the wait deciding what you'll say to her afterwards.",
            None,
        ),
        (
            "reason_over_passion",
            "Someone cut me off on the motorway and I wanted to chase them down.",
            "That surge is real, and it passes if you don't feed it. Marcus Aurelius had a question "
            "for moments like this. When someone's shameless conduct offended him, he asked himself "
            "whether a world without shameless people was possible, and admitted that it was not. "
            "Careless drivers will always exist; your job is not to become a second dangerous "
            "driver on the same road. Drop back, loosen your grip on the wheel, and let them "
            "disappear ahead. In ten minutes they'll be someone else's story, and you'll be home "
            "safe.",
            None,
        ),
        (
            "premeditatio_malorum",
            "My train gets cancelled almost every week and it ruins my mornings.",
            "If it happens almost every week, it isn't a surprise anymore; it's a pattern you "
            "can plan for. The Stoics rehearsed likely setbacks so they didn't land as shocks. "
            "Decide tonight what you'll do when the cancellation notice appears: the backup "
            "bus, the message to your manager, the book in your bag. With a plan in place, a "
            "cancelled train becomes an inconvenience rather than an ambush.",
            None,
        ),
        (
            "view_from_above",
            "The bus driver shut the doors in my face even though he saw me running.",
            "Imagine the city from above for a moment: thousands of buses, thousands of people "
            "running for them, doors closing on somebody every minute. You were one of them "
            "this morning. It stung because it felt personal, but the driver was probably "
            "keeping to a timetable and barely registered your face. Catch your breath, check "
            "when the next one comes, and notice that you've been handed a few free minutes.",
            None,
        ),
        (
            "amor_fati",
            "Roadworks have doubled my commute for the next six months.",
            "Six months is long enough that resisting it every day will wear you out. So accept the "
            "extra time as a fact, then make it yours: audiobooks, language lessons, a phone call "
            "to your mum, or twenty minutes of silence you don't get anywhere else. Ask yourself "
            "now what you'd like to have done with those hours by the time the cones come down. "
            "Epictetus taught that instead of wanting events to go as you wish, you should want "
            "them to go as they actually go, and that life then becomes tranquil. It sounds "
            "passive, but it's the opposite.",
            None,
        ),
        (
            "living_according_to_nature",
            "I hate being crammed into a packed tube carriage with strangers every day.",
            "It's hard to feel fond of an elbow in your ribs at quarter past eight. Yet Marcus "
            "Aurelius thought cooperation is in our nature, like a pair of hands or the upper and "
            "lower rows of teeth working together. A packed carriage is an odd little picture of "
            "that: hundreds of strangers getting each other to work with surprisingly little fuss. "
            "Offer your seat when you can, hold the door, keep your bag off the floor. Treating the "
            "crush as a shared task makes it lighter, strangely enough.",
            None,
        ),
        (
            "virtue_only_good",
            "I was late for an important meeting because of a crash on the road and my boss was "
            "annoyed.",
            "Being held up by a crash is no moral failing. What matters, from a Stoic point of "
            "view, is how you handled it: did you tell people as soon as you safely could, did "
            "you stay honest about why, did you arrive ready to work? If so, you behaved well, "
            "and your boss's annoyance is a passing mood you don't own. If something could have "
            "gone better, note it for next time and let the rest go.",
            None,
        ),
        (
            "memento_mori",
            "I waste nearly ten hours a week commuting and it feels like my life is slipping "
            "away.",
            "Seneca opened his letters to Lucilius by insisting that time is the only thing truly "
            "ours, and your feeling deserves the same attention. Ten hours is a part-time life. You "
            "may not be able to cut it, but you can stop letting it evaporate. Decide what those "
            "hours are for: reading, learning, resting properly, calling people you love. Or ask "
            "whether you could work from home one day a week. Either way, spend the time on "
            "purpose.",
            None,
        ),
        (
            "preferred_indifferents",
            "My car broke down and the repair will cost more than the car is worth.",
            "A working car is genuinely useful; the Stoics would call it a preferred "
            "indifferent, reasonable to want but not something your peace should hang on. So "
            "treat this as a practical puzzle rather than a disaster. Compare the repair with a "
            "cheap replacement, ask a friend who knows cars, look at buses or a bike in the "
            "meantime. You'll be fine either way. Which option leaves you with less worry, not "
            "just less expense?",
            None,
        ),
        (
            "reason_over_passion",
            "The cyclist in front of me keeps weaving about and I'm screaming at him inside my "
            "car.",
            "Nobody can hear you, but your own body certainly can: tight jaw, hot face, white "
            "knuckles. Marcus Aurelius reminded himself that our anger and irritation at what "
            "others do usually hurt us far more than the acts themselves. The cyclist will be gone "
            "in a minute; the adrenaline stays with you all afternoon. Give him the room you'd want "
            "your own kid to have, ease off a little, and hum something ridiculous. Anger is a "
            "habit, and so is letting it go.",
            None,
        ),
        (
            "dichotomy_of_control",
            "The parking app crashed and I got a fine even though I tried to pay.",
            "Annoying and unfair, in that order. Epictetus would point to the part that's yours, "
            "since he taught that what upsets us is never the event itself but our judgement about "
            "it. The fine is a piece of paper; the story that this always happens to you is what's "
            "spoiling the afternoon. Screenshot the error, note the time you tried to pay, and file "
            "an appeal tonight. Then you've done everything within your power, and the rest is "
            "sitting in the council's inbox.",
            None,
        ),
        (
            "premeditatio_malorum",
            "I have to drive on icy roads tomorrow and I'm terrified.",
            "Fear is useful if it makes you prepare and useless if it keeps you awake, so put it to "
            "work now. Check the tyres, de-ice the car tonight, plan to leave twenty minutes early, "
            "find out which roads are gritted. Then hand the rest to tomorrow. Marcus Aurelius told "
            "himself not to be troubled by the future, since he would meet it, if he had to, with "
            "the same reason he used for the present. You'll bring tomorrow's judgment to "
            "tomorrow's road. Drive slowly, keep your distance, and give yourself permission to "
            "turn back.",
            None,
        ),
        (
            "view_from_above",
            "I missed my connecting train by thirty seconds and now I'll be home an hour late.",
            "Thirty seconds feels cruel precisely because it was so close. Try the exercise Marcus "
            "Aurelius set himself and picture the whole human crowd from high above. From up there "
            "you'd see trains missed in every city on earth tonight, and people shrugging, calling "
            "home, buying a sandwich. You're one of them, nothing more. Let someone know, get "
            "something warm to drink, and treat the hour as unexpected time to read.",
            None,
        ),
        (
            "amor_fati",
            "My bike got stolen from outside the station this morning.",
            "Losing your bike is a real loss, and you're allowed to be cross. But try a Stoic "
            "experiment: what if this morning is simply what was going to happen, and the only "
            "question is what you'll do with it? Report it, and keep an eye on local resale "
            "listings. Then perhaps walk for a week and see the town at a slower pace, or "
            "borrow a friend's. Sometimes a forced change shows you a route you'd never have "
            "tried.",
            None,
        ),
    ],
    "money": [
        (
            "preferred_indifferents",
            "I can't afford the holiday all my friends are going on this summer.",
            "Missing a trip with friends is a real loss; sun and good company are worth having. But "
            "they aren't what makes a life good. Tell your friends honestly that it's not in the "
            "budget this year, and suggest a cheap weekend together before or after. The "
            "friendships you keep that way will outlast any tan. Seneca, who knew wealth from the "
            "inside, thought that poverty means not having too little but always craving more.",
            None,
        ),
        (
            "premeditatio_malorum",
            "I'm terrified of losing my job and not being able to pay the rent.",
            "Seneca, one of the richest men in Rome, had a curious habit. He would deliberately "
            "spend a few days on cheap food and rough clothes and ask himself whether this was "
            "really the condition he had feared. Most of the time the answer was no. You could try "
            "a gentler version: work out exactly what you'd cut, who you'd call, and what help "
            "exists if the worst happened. Put it on one page. Fear shrinks when it has edges.",
            None,
        ),
        (
            "dichotomy_of_control",
            "Inflation is eating my savings and there's nothing I can do about it.",
            "You're right that inflation isn't yours to control; central banks and global "
            "markets don't take your calls. But \"nothing I can do\" isn't quite true either. "
            "You can check where the savings sit, see whether a better account exists, trim one "
            "subscription, and learn a little about how prices move. Put your worry into those "
            "small levers and leave the economy to the economists. The rest is weather.",
            None,
        ),
        (
            "virtue_only_good",
            "My brother earns three times what I make and our parents keep praising him for it.",
            "Comparison is a thief, and family comparison is a burglar with a key. Your "
            "brother's income says something about his job market, not about your worth as a "
            "person. The Stoics held that only character is truly good: honesty, courage, "
            "fairness, self-control. Which of those have you been practising lately? That's the "
            "list worth keeping. You might also tell your parents, kindly, that the comparisons "
            "hurt.",
            None,
        ),
        (
            "reason_over_passion",
            "I impulse-bought a gadget I didn't need and now I'm angry at myself.",
            "Beating yourself up won't get the money back, but understanding the moment might "
            "stop the next one. What was happening right before you clicked buy? Boredom, "
            "tiredness, a bad day at work? Desire is loudest when reason is tired. Try a simple "
            "rule: anything non-essential waits forty-eight hours in the basket, and if you "
            "still want it then, fine. Meanwhile, check whether this one can go back.",
            None,
        ),
        (
            "amor_fati",
            "My landlord is selling the flat and I have to move out in two months.",
            "Moving is exhausting, and nobody chooses it on these terms. Still, the Stoic move "
            "is to ask what this turn of events makes possible. Two months is enough time to "
            "look properly. Perhaps there's a neighbourhood you've been curious about, or a "
            "cheaper place that frees money for something you care about. Write down what you'd "
            "want in an ideal home, then book one viewing this week. Let the move be a "
            "beginning as well as an ending.",
            None,
        ),
        (
            "memento_mori",
            "I keep saving for the future and never let myself enjoy anything now.",
            "Prudence is a virtue, but so is knowing what the money is for. Seneca warned his "
            "friend that life rushes past while we are busy postponing it. None of us is guaranteed "
            "a retirement. Keep saving, but set aside a small, guilt-free amount each month for "
            "something that makes today good: a meal with friends, a concert, a class. And if you "
            "can't name what you're saving toward, that's worth a quiet evening of thought.",
            None,
        ),
        (
            "view_from_above",
            "I lost a hundred pounds on a stupid online bet and I feel like an idiot.",
            "Zoom out for a moment. A hundred pounds is painful this week and small across a whole "
            "life; people have lost far more and rebuilt. Marcus Aurelius would add that when "
            "something outside us causes pain, the pain comes from our own judgement about it "
            "rather than from the thing itself. The money is gone, but calling yourself an idiot is "
            "a judgment you can drop tonight. What matters is the lesson, cheaply bought if you "
            "learn it. Consider blocking betting sites for a while, and if it's becoming a habit, "
            "talk to someone.",
            None,
        ),
        (
            "preferred_indifferents",
            "Everyone at work drives a nicer car than me and I'm embarrassed to park next to "
            "them.",
            "A nicer car is pleasant, and there's nothing wrong with wanting one. But embarrassment "
            "is borrowing other people's opinions and paying interest on them. Your car gets you to "
            "work; their cars get them to the same building. If anyone judges you by your "
            "hatchback, that's a lesson about them. Park, lock it, and walk in as who you are. "
            "Epictetus went further still, telling anyone who wanted to improve to accept being "
            "thought foolish about outward things like these.",
            None,
        ),
        (
            "premeditatio_malorum",
            "My boiler could break any day this winter and I don't have an emergency fund.",
            "Good: you've spotted the risk before it arrived, which is half of what the Stoics "
            "meant by rehearsing misfortune. Now finish the job. Find out what a repair "
            "typically costs, whether your landlord or insurance covers it, and who could lend "
            "you a heater for a few days. Then start a small emergency pot, even twenty pounds "
            "a month. You can't stop a boiler failing, but you can stop it catching you "
            "unprepared.",
            None,
        ),
        (
            "reason_over_passion",
            "My partner spent money we'd agreed to save and I'm absolutely furious.",
            "Fury makes money conversations ten times harder. Give yourself an evening before "
            "you talk, and when you do, start from the agreement rather than the accusation: "
            "\"We decided to save this; what happened?\" There may be a reason you don't know "
            "about, or it may just have been a lapse. Either way, the goal is a plan you both "
            "keep, not a verdict. Reason can fix a budget; anger only adds a second bill.",
            None,
        ),
        (
            "virtue_only_good",
            "I found a wallet full of cash and part of me wants to keep it.",
            "That tug is honest, and it's good you noticed it instead of acting on it. The cash "
            "can't make you a better person; returning it can. The one thing that's truly yours "
            "here is the kind of person you choose to be this afternoon. Look for an ID card "
            "with an address, or hand it in at a police station. You'll lose money you never "
            "had, and keep something you'd miss far more.",
            None,
        ),
        (
            "living_according_to_nature",
            "I work two jobs just to keep up and I'm exhausted all the time.",
            "The Stoics believed in living according to nature, and human nature includes a "
            "body that needs sleep and a mind that needs rest. Two jobs might be necessary "
            "right now, and that's no failing. But look honestly at what \"keeping up\" means. "
            "Keeping up with bills is essential. Keeping up with a lifestyle other people "
            "expect may not be. What would you cut if rest were a bill you had to pay too?",
            None,
        ),
        (
            "dichotomy_of_control",
            "My pension investments dropped fifteen percent this year and I keep checking them.",
            "Checking every day feels like doing something, but it's really worrying with a "
            "spreadsheet. The first sentence of Epictetus's handbook deserves to be taped to your "
            "screen, because it says that some things are up to us and others are not. The market "
            "belongs to the second group. Your contribution rate, your time horizon and how often "
            "you look all belong to the first. Delete the app from your home screen, review the "
            "plan once a quarter, and spend the attention you win back elsewhere.",
            None,
        ),
    ],
    "health": [
        (
            "dichotomy_of_control",
            "I've got the flu and I'm missing my best friend's birthday party.",
            "Missing the party is a real disappointment, and it's fine to be grumpy about it. But a "
            "body stuck on the sofa doesn't stop your kindness. Send a voice message, arrange a "
            "proper catch-up for next week, and ask someone to save you a slice of cake. Then rest "
            "without guilt; getting better is the most useful thing you can do tonight. Epictetus "
            "drew this distinction neatly, teaching that illness can hinder the body but not the "
            "will, unless the will itself chooses to give way.",
            None,
        ),
        (
            "premeditatio_malorum",
            "I'm waiting for test results and I keep imagining the worst.",
            "Waiting is its own kind of illness; the mind fills the silence with the darkest "
            "stories it can find. Seneca recognised the pattern and observed that we are hurt more "
            "often by what we picture than by what is real. You don't yet know what the results "
            "will say. Give the worry a boundary. Spend ten minutes tonight writing down what you'd "
            "ask the doctor in each case, then close the notebook. Whatever comes, you'll face the "
            "real thing, not the imagined one.",
            None,
        ),
        (
            "reason_over_passion",
            "I keep stress eating at night even though I want to lose weight.",
            "Stress eating is the body asking for comfort and grabbing the quickest version on "
            "offer. Scolding yourself next morning just adds more stress. Instead, catch the "
            "moment between the feeling and the fridge, and ask, out loud if it helps: what do "
            "I actually need right now? Sometimes it's food. Often it's rest, a chat, or ten "
            "minutes outside. Reason doesn't shout at a craving; it asks it questions.",
            None,
        ),
        (
            "preferred_indifferents",
            "I hurt my knee and can't run anymore, and running was how I coped with everything.",
            "Health is something the Stoics thought well worth caring for, just not the source "
            "of your worth or your calm. Losing running hurts twice: the knee, and the outlet. "
            "So look for what running really gave you. Was it solitude, rhythm, the feeling of "
            "effort? Swimming, cycling or long walks may offer some of that while you heal. "
            "Following your physio's plan faithfully is the part that's fully yours.",
            None,
        ),
        (
            "memento_mori",
            "My doctor says my blood pressure is high and I need to change my habits.",
            "That appointment was a gift disguised as bad news. Marcus Aurelius kept reminding "
            "himself that time is limited, that he should not act as though he had ten thousand "
            "years ahead, and that while he lived and still could, he should be good. Being good, "
            "here, includes being good to the body you were given to live in. Pick one change you "
            "can start tomorrow: a daily walk, less salt, an earlier bedtime. Not all of them at "
            "once. Each small habit is a vote for more years with the people you love.",
            None,
        ),
        (
            "amor_fati",
            "I have a chronic illness and I'm sick of my whole life revolving around it.",
            "Years of managing an illness are wearing, and your tiredness makes complete sense. "
            "You've already carried a great deal and built skills most people never need. Which "
            "parts of your life could the illness sit in the background of, rather than at the "
            "centre? Start with one thing you loved before the diagnosis. On the hard days, "
            "remember that Marcus Aurelius, who was often unwell himself, believed nothing happens "
            "to anyone that their nature has not equipped them to bear. It isn't a promise that "
            "things are easy, only a reminder of what you are.",
            None,
        ),
        (
            "living_according_to_nature",
            "I sit at a screen twelve hours a day and my back is killing me.",
            "You're an animal built for walking, lifting and looking at the horizon, and for "
            "twelve hours a day you're being asked to behave like a houseplant. The Stoics "
            "spoke of living according to nature; for a human body, that means movement. Set a "
            "timer to stand every forty minutes, take calls on your feet, and walk at lunch "
            "even when it's raining. Your back isn't being a nuisance. It's making a sensible "
            "complaint.",
            None,
        ),
        (
            "dichotomy_of_control",
            "I found a small lump and I'm so anxious I can't concentrate on anything.",
            "The first step is fully yours: book the GP appointment today, before anything "
            "else. After that, your mind will keep trying to answer a question it doesn't have "
            "the information for, and that's exhausting. When the worry loops back, tell "
            "yourself, \"I've done my part; the next part happens at the appointment.\" Then "
            "give your attention to something concrete—a task, a walk, a friend. Most lumps "
            "turn out to be harmless, and either way you'll face it with facts.",
            None,
        ),
        (
            "view_from_above",
            "I broke my arm and I'm stuck in a cast for six weeks of the summer.",
            "Six weeks feels endless when it's sunny and everyone is swimming. From a longer "
            "view, though, it's one summer out of many, and an arm that will almost certainly "
            "heal. People have endured far worse with far less comfort. Use the weeks for "
            "things a cast doesn't stop: the big novel, learning to sketch with your other "
            "hand, long evenings outdoors with friends. Next summer you'll barely remember the "
            "itch.",
            None,
        ),
        (
            "virtue_only_good",
            "I've been diagnosed with depression and I feel ashamed to tell anyone.",
            "There's nothing in a diagnosis to be ashamed of. Shame belongs to wrongdoing, and "
            "being ill is not wrongdoing. The Stoics taught that only your choices reflect your "
            "character, and the choice in front of you now is a brave one: to seek help. Tell "
            "one trusted person, or your doctor, this week. Asking for support isn't weakness; "
            "it's exactly the kind of courage they admired.",
            None,
        ),
        (
            "premeditatio_malorum",
            "I have surgery next month and I'm scared of the anaesthetic.",
            "Naming the fear precisely helps. Write down what, exactly, scares you about the "
            "anaesthetic, then bring that list to your pre-op appointment and ask every "
            "question on it. Anaesthetists hear these worries daily and can usually explain "
            "them clearly. Picture the day honestly: the gown, the cannula, counting backwards, "
            "waking groggy. Rehearsed in daylight, it's far less frightening than it is in the "
            "dark at three in the morning.",
            None,
        ),
        (
            "reason_over_passion",
            "When my back pain flares up I snap at everyone around me.",
            "Pain shortens everyone's fuse, and noticing the pattern is already a kind of wisdom. "
            "Seneca, who was ill for much of his life, wrote to a friend that we are only as "
            "miserable as we have convinced ourselves we are. He didn't mean the pain isn't real; "
            "he meant the stories we pile on top of it make it heavier. When a flare starts, tell "
            "the people around you plainly—\"my back is bad today, I might be short\"—then take your "
            "medication and lie down before you snap.",
            None,
        ),
        (
            "living_according_to_nature",
            "I've tried to quit smoking five times and I've just failed again.",
            "Five attempts isn't failure; it's practice. Epictetus told a man who wanted quick "
            "results that nothing great comes into being suddenly, not even a bunch of grapes or a "
            "fig. A fig has to blossom, then bear fruit, then ripen, and a new habit grows the same "
            "way. What did each attempt teach you about your triggers? Use those notes for attempt "
            "six, get support from a stop-smoking service, and count each smoke-free day as a "
            "small, real victory.",
            None,
        ),
        (
            "memento_mori",
            "A friend my age just had a heart attack and now I'm scared about my own health.",
            "A shock like that rattles everyone nearby. Marcus Aurelius left himself a sobering "
            "note about this. Since he might depart from life at any moment, he resolved to let "
            "that possibility shape everything he did and thought. It sounds grim, but for him it "
            "was a way of getting clear. So get clear. Book a check-up, ask your friend what they "
            "wish they'd known, and decide which habits you want to change. Then go and see them, "
            "take something good to read, and tell them you're glad they're still here.",
            None,
        ),
    ],
    "relationships": [
        (
            "dichotomy_of_control",
            "My sister hasn't spoken to me since our argument at Christmas.",
            "Family silences can weigh more than the argument itself. Epictetus taught that "
            "everything has two handles, one you can carry it by and one you can't. His own example "
            "was a brother who had wronged you. You can pick this up by the handle of the argument, "
            "or by the handle that she is your sister. Her reply isn't yours to control; a short, "
            "warm message that doesn't relitigate the fight is. Send it, and then give her time.",
            None,
        ),
        (
            "reason_over_passion",
            "My partner left dirty dishes in the sink again and I want to scream.",
            "Marcus Aurelius noted that if a cucumber is bitter, you throw it away, and if there "
            "are briars in the road, you step around them without demanding to know why the world "
            "contains such things. Dishes in the sink are briars. Annoying, small, solvable. Pick a "
            "calm moment, not tonight at the sink, to agree who does what, perhaps with a rota on "
            "the fridge. And ask yourself whether this is really about dishes, or about feeling "
            "unhelped. That second conversation matters more.",
            None,
        ),
        (
            "premeditatio_malorum",
            "I'm dreading spending the holidays with my in-laws.",
            "Borrow the morning rehearsal Marcus Aurelius used, in which he warned himself in "
            "advance about the busybodies, the ungrateful and the arrogant he was sure to meet that "
            "day. Expect the remark about your cooking, the political rant, the question about "
            "grandchildren. When they arrive, you'll recognise them instead of being stung. Then "
            "plan a few escape valves: a walk after lunch, a job in the kitchen, an agreed signal "
            "with your partner. Going in prepared turns dread into something closer to mild "
            "amusement.",
            None,
        ),
        (
            "virtue_only_good",
            "My friend betrayed my trust by sharing a secret I told her.",
            "Being betrayed by a friend cuts deep, and you don't need to pretend otherwise. The "
            "temptation is to share one of her secrets back. Tell her honestly how it affected you "
            "instead, and then decide, calmly, how much you'll confide in her from now on. Your own "
            "trustworthiness is the thing you get to keep, whatever she does. Marcus Aurelius "
            "answered that urge for revenge better than anyone; he thought the best revenge is to "
            "refuse to become like the person who wronged you.",
            None,
        ),
        (
            "amor_fati",
            "My long-term relationship just ended and I didn't see it coming.",
            "It's all right to be completely floored. Later—not today—you might try the Stoic "
            "practice of loving even this: not because the breakup is good, but because it's "
            "now part of the story you get to build from. Who were you before the relationship "
            "that you'd like to meet again? Which friends did you neglect? For now, eat "
            "something, sleep, and let people look after you. The rest will come in its own "
            "time.",
            None,
        ),
        (
            "view_from_above",
            "My best friend forgot my birthday.",
            "It hurts to be forgotten by someone who matters. Try zooming out, though: your "
            "friend is one person juggling work, family and a phone full of reminders, in a "
            "city full of people forgetting things today. A missed birthday is rarely a verdict "
            "on a friendship. You could even message her first, lightly: \"You owe me a "
            "coffee.\" Chances are she'll be mortified and delighted in equal measure.",
            None,
        ),
        (
            "living_according_to_nature",
            "I feel lonely since moving to a new city where I don't know anyone.",
            "Loneliness is a signal, not a flaw. Marcus Aurelius believed we are made to work "
            "together, as hands, feet and eyelids do, and he meant it literally. Humans are built "
            "for company, so your discomfort makes complete sense. Treat it as a task. Join one "
            "regular thing—a choir, a running club, a volunteering shift—where you'll see the same "
            "faces each week. Friendship grows from repetition more than from brilliant first "
            "conversations. Give it three months before you judge the city.",
            None,
        ),
        (
            "reason_over_passion",
            "My teenage son rolled his eyes at me and I completely lost my temper.",
            "Eye-rolling is practically a teenage reflex, and losing your temper at it is a very "
            "parental one. Next time, try the advice from Seneca's On Anger, which names delay as "
            "the greatest remedy for anger. Say you need a minute, and step away. When you come "
            "back, you can address the disrespect without a shouting match. And it's never too late "
            "to apologise for this one; that will teach him more than any lecture.",
            None,
        ),
        (
            "preferred_indifferents",
            "My partner wants a big wedding and I'd rather elope.",
            "A wedding is a preferred indifferent in Stoic terms: worth caring about, but not "
            "what makes a marriage good. Look at what each of you wants underneath the format. "
            "Maybe your partner wants family present; maybe you want less fuss and less debt. "
            "Is there a version with twenty people and a good long lunch? The ceremony lasts a "
            "day. How you two settle this disagreement is practice for the next forty years.",
            None,
        ),
        (
            "dichotomy_of_control",
            "My flatmate never pays her share of the bills on time.",
            "You can't make your flatmate organised, however much you'd like to. You can make "
            "the system harder to ignore. Suggest a shared bills app or a standing order on "
            "payday, and agree a date by which you'll raise it again if nothing changes. Say it "
            "once, kindly and clearly, then hold to the arrangement. Her habits are hers; your "
            "boundaries are yours.",
            None,
        ),
        (
            "virtue_only_good",
            "My friends gossip about people constantly and I feel pressured to join in.",
            "Feeling that pressure means your conscience is working. The Stoics thought "
            "character was the only truly good thing we own, and it's built in exactly these "
            "small moments. You don't need to lecture anyone. Change the subject, ask about "
            "something else, or say lightly, \"I don't know her well enough to judge.\" Good "
            "friends will notice, and some may even be relieved. The others will learn you're "
            "not a channel for it.",
            None,
        ),
        (
            "amor_fati",
            "My parents are divorcing after thirty years and it's turned everything upside down.",
            "Even as an adult, this can feel like the ground moving. You didn't choose it, and "
            "you can't undo it. What you can choose is how to meet it: as a loss only, or also "
            "as a chance to know each of your parents more as individuals. Let them each tell "
            "you their story, without taking sides. A family reshaped can still be a family. Be "
            "patient with yourself while the new shape forms.",
            None,
        ),
        (
            "premeditatio_malorum",
            "My wedding is in two weeks and I'm convinced something will go wrong.",
            "Something probably will go wrong: a late cake, a rainy hour, an uncle who says too "
            "much. The Stoics would say make peace with that now. Imagine three likely hiccups "
            "and decide in advance how you'll laugh them off. Then appoint a friend to handle "
            "problems on the day so you don't have to. The point of a wedding is the promise, "
            "and no weather or caterer can spoil that.",
            None,
        ),
        (
            "memento_mori",
            "I keep arguing with my mum over small things and then regretting it.",
            "Those small fights matter because the time with her is finite. Marcus Aurelius set "
            "himself a high bar, believing that perfect character means passing each day as if it "
            "were the last, without being violently excited, numb, or fake. You don't have to be "
            "perfect. But before the next visit, decide that one topic stays off the table, and "
            "that you'll leave with a hug even if the conversation was bumpy. Small regrets add up; "
            "so do small kindnesses.",
            None,
        ),
        (
            "dichotomy_of_control",
            "My best friend is dating someone I think is terrible for her.",
            "You can't choose for her, however clearly you think you see. What you can do is "
            "stay close, be honest once, and keep the door open. Tell her, kindly and "
            "specifically, what worries you, then let it rest. If things go badly, she'll need "
            "a friend who doesn't say \"I told you so.\" Being that friend is entirely within "
            "your control.",
            None,
        ),
        (
            "living_according_to_nature",
            "My kids fight constantly and I'm exhausted from refereeing.",
            "Siblings squabbling is about as natural as weather, and refereeing every round "
            "will drain you. Children learn to negotiate by bumping into each other, so let "
            "some of it run its course. Set a few simple rules for the fights you'll step "
            "into—anyone getting hurt, anything getting broken—and stay out of the rest. "
            "Tonight, tell each child one good thing you saw them do today. Kids often fight "
            "less once the audience leaves.",
            None,
        ),
    ],
    "technology": [
        (
            "dichotomy_of_control",
            "My laptop crashed and I lost three hours of work.",
            "Three hours gone is genuinely painful. But the work isn't entirely lost: the "
            "thinking you did is still in your head, and second drafts are often better than "
            "first ones. Write down everything you remember while it's fresh. Then set up "
            "autosave or cloud backup tonight; that's the part of this you can fix for good. "
            "This crash wasn't yours to prevent. The next one is.",
            None,
        ),
        (
            "reason_over_passion",
            "A software update broke my phone and customer support is useless.",
            "A maze of support menus would test anyone's patience. Marcus Aurelius diagnosed this "
            "sharply. He held that if you take away your opinion about an event, the feeling of "
            "having been harmed goes too, and with it the harm. The phone is broken; your day "
            "doesn't have to be. Write down what changed after the update, try one fix from a "
            "reliable forum, and if that fails, book a repair appointment. Then put the phone in a "
            "drawer for an hour. It'll stay just as broken without you staring at it.",
            None,
        ),
        (
            "view_from_above",
            "Someone was rude to me in an online argument and I can't stop thinking about it.",
            "You're giving a stranger with a username a lot of free rent in your head. Step back "
            "and look at the exchange from above: two people typing at each other, on a planet with "
            "billions of others doing the same. Marcus Aurelius summed it up briefly, noting that "
            "the universe is constant change and that life is largely a matter of opinion. The "
            "comment has no force except the force you lend it. Mute the thread, close the tab, and "
            "go and do something with your hands.",
            None,
        ),
        (
            "memento_mori",
            "I spend hours scrolling every night and then I hate myself for it.",
            "Hating yourself won't give the hours back. Seneca argued that we don't have too little "
            "time; we waste too much of it. His point is not self-punishment, just noticing what "
            "the hours are worth. Each evening is a small slice of a finite life. Try charging your "
            "phone outside the bedroom and keeping a book or notebook where it used to be. When you "
            "catch yourself scrolling, ask, \"Is this how I want to spend tonight?\" Sometimes the "
            "answer will be yes. Often it won't.",
            None,
        ),
        (
            "premeditatio_malorum",
            "I'm worried AI will take my job in a few years.",
            "It's a reasonable worry, so treat it as a rehearsal rather than a nightmare. "
            "Imagine it happens: which skills would you lean on, what would you retrain in, who "
            "would you call? Write those down. Now you can quietly start on the items you'd "
            "regret not starting, like learning the tools yourself. Preparing for a storm takes "
            "away most of its power to terrify you, even if it never comes.",
            None,
        ),
        (
            "amor_fati",
            "My company switched to a new software system and I have to learn everything again.",
            "Relearning tools you'd mastered is frustrating, especially when the old system worked "
            "fine. Still, consider how Marcus Aurelius turns obstacles around. He thought that what "
            "blocks our action can end up advancing it, so the obstacle itself becomes the way "
            "forward. The new system is now the path. Be the person who learns it properly and "
            "helps colleagues along. In six months you'll be the one people ask, and that's a "
            "better place to stand than being the one who kept complaining about the change.",
            None,
        ),
        (
            "living_according_to_nature",
            "I'm on video calls all day and I feel like a zombie by five o'clock.",
            "Of course you do. Human beings evolved to talk face to face, read body language, "
            "move around and rest their eyes on distant things. A grid of faces on a screen "
            "makes the brain work hard for very little of that. Where you can, turn one call a "
            "day into a phone call you take while walking. Look out of the window between "
            "meetings. Small doses of natural living make the rest bearable.",
            None,
        ),
        (
            "dichotomy_of_control",
            "The Wi-Fi went down in the middle of my online job interview.",
            "That's about as unlucky as timing gets, and no interviewer worth working for will "
            "blame you for a router. What you control now is the follow-up. Email them "
            "promptly, apologise for the disruption, restate your interest, and offer a new "
            "slot or a phone call. How you handle a glitch tells them more about you than a "
            "perfect connection would have. Then set up a mobile hotspot as a backup for next "
            "time.",
            None,
        ),
        (
            "virtue_only_good",
            "My app got a one-star review from someone who clearly didn't use it properly.",
            "It's galling when criticism misses the point. Read the review once for anything "
            "useful, reply politely with a short explanation of how the feature works, and move on. "
            "Your job is to build something good and treat users fairly, including the unfair ones; "
            "the quality of your work is what lasts. One review is a single wave, and Marcus "
            "Aurelius knew what to be in front of waves. He pictured a headland that the sea keeps "
            "breaking against, standing firm while the water calms around it.",
            None,
        ),
        (
            "reason_over_passion",
            "I sent an angry email to a colleague and now I regret it.",
            "Regret means your reason has caught up with your temper, which is good news. Don't "
            "let the email sit there festering. Write a short follow-up today: own the tone, "
            "keep the point if it was valid, and suggest talking in person. Then make a rule "
            "for next time: angry drafts wait until morning, with the recipient field left "
            "empty. Most emails read differently after a night's sleep.",
            None,
        ),
        (
            "preferred_indifferents",
            "Everyone has the latest phone and mine is four years old.",
            "A new phone is nice: a better camera, a longer battery. Nothing wrong with that. "
            "But in Stoic terms it's an indifferent, something that can be used well or badly "
            "and that doesn't make your life good on its own. Does your four-year-old phone do "
            "what you need? Then it's doing its job. Maybe replace the battery and put the "
            "savings toward something that will actually matter to you.",
            None,
        ),
        (
            "premeditatio_malorum",
            "My account got hacked and someone posted spam to all my contacts.",
            "Being hacked feels like a break-in, even though nothing physical was touched. Deal "
            "with it step by step: change your passwords, switch on two-factor authentication, "
            "and send your contacts a quick warning. Then make it a habit to do a ten-minute "
            "security check every few months; that's the modern version of the Stoics "
            "rehearsing misfortune before it arrives. Your friends know you, and they'll "
            "recognise spam when they see it.",
            None,
        ),
        (
            "memento_mori",
            "I spent my whole weekend fixing my computer instead of seeing my friends.",
            "That's a weekend you won't get back, and it's fair to feel the loss. Marcus Aurelius "
            "observed that the present moment is the only thing anyone can actually lose. That cuts "
            "both ways: yesterday is gone, but this evening is still yours. Message a friend and "
            "suggest something small tonight—a walk, a drink. And next time the computer "
            "misbehaves, give it a time limit or pay someone to fix it. Hours with people are worth "
            "more than a technician's fee.",
            None,
        ),
        (
            "amor_fati",
            "My smart home gadgets keep disconnecting and I end up switching the lights on by "
            "hand.",
            "There's something almost comic about a smart bulb that forgets how to be smart. "
            "Perhaps enjoy the comedy. The Stoics practised welcoming whatever turns up, "
            "including small absurdities. A light switch is a very old and very reliable piece "
            "of technology, and flicking one costs you a second. Fix the connection when you "
            "have a calm half hour, but don't let a gadget's moods set yours.",
            None,
        ),
        (
            "reason_over_passion",
            "I have so many tabs and apps open that I can't focus on anything.",
            "Seneca warned a friend about flitting between too many books, since a reader who is "
            "everywhere is really nowhere. The same holds for a browser with forty tabs. Every "
            "notification is a small tug on your attention, and you're letting dozens of them pull "
            "at once. Close everything except the one task in front of you. Put your phone in "
            "another room for an hour. Attention is something reason can direct, but only once you "
            "stop handing the steering wheel to every ping.",
            None,
        ),
    ],
    "weather_travel": [
        (
            "amor_fati",
            "It rained every single day of my beach holiday.",
            "Epictetus advised wishing for things to happen just as they do happen, not as you "
            "would like. That sounds impossible when you've saved all year for sunshine, but try it "
            "for one day. Rain on holiday still leaves you with time off, company, new streets and "
            "long lunches. Find the local museum, the best café, the walk that's lovely in drizzle. "
            "Years from now, the rainy holiday may be the one you tell stories about.",
            None,
        ),
        (
            "premeditatio_malorum",
            "My flight is delayed six hours and I'm stuck at the airport.",
            "Six hours in an airport is a long, strange day. It's also something travellers "
            "have always faced in one form or another, which is why the Stoics advised packing "
            "the possibility in your mind before you set off. For next time: a book, a charger, "
            "snacks, and the expectation that delays happen. For now: check whether you're owed "
            "compensation, find a quiet corner, and call someone you've been meaning to talk to.",
            None,
        ),
        (
            "dichotomy_of_control",
            "The heatwave is making it impossible to sleep or work.",
            "You can't turn the temperature down outside, but a surprising amount indoors is "
            "within reach. Close the curtains in the morning, open the windows at night, put a "
            "damp cloth in front of a fan, and move your hardest work to the early hours. Drink "
            "more water than you think you need. And lower the bar for what counts as a good "
            "day while it lasts. A heatwave is a season, not a verdict on your productivity.",
            None,
        ),
        (
            "living_according_to_nature",
            "Winter is so dark and grey that I feel miserable every single year.",
            "The seasons turn, and the Stoics thought wisdom lay in moving with nature rather "
            "than against it. Winter asks for a different rhythm: more rest, more warmth, more "
            "company indoors. Get outside at midday for whatever light there is, even ten "
            "minutes. Put small lights in the calendar, like a dinner or a film night. If the "
            "low mood is heavy or lasts for months, talk to a doctor; it's common and "
            "treatable. Spring always comes back.",
            None,
        ),
        (
            "reason_over_passion",
            "The hotel we booked looks nothing like the photos online and I feel cheated.",
            "Feeling cheated is fair; the photos sold you something else. Before the anger "
            "decides the rest of the trip, separate the practical from the emotional. "
            "Practically: photograph the problems, speak to the manager calmly, and ask for a "
            "different room or a partial refund. Emotionally: the holiday is the place, the "
            "people you're with and the days off, not the bedspread. Write the honest review "
            "later, once you're home and calm.",
            None,
        ),
        (
            "preferred_indifferents",
            "The airline lost my luggage and I'm on holiday with nothing but the clothes I'm "
            "wearing.",
            "That's a rotten start, and the claim forms are tedious. Still, a suitcase falls "
            "among the preferred indifferents: pleasant to have, not essential to a good trip. "
            "Keep every receipt, buy the basics, and report it properly. Then notice how little "
            "you actually need—a toothbrush, a change of clothes, sunscreen. Plenty of "
            "travellers pay extra to go this light. Your bag will most likely turn up in a day "
            "or two.",
            None,
        ),
        (
            "dichotomy_of_control",
            "I went travelling to get away from my problems but I'm just as unhappy here.",
            "Seneca got a letter with exactly this complaint two thousand years ago. His reply, "
            "gentle but frank, was that his friend needed a new state of mind rather than a new "
            "climate. The problems came along because they live in your thoughts, not in your "
            "postcode. That's good news, actually: it means you can work on them anywhere, "
            "including here. What's really weighing on you? Write it down tonight, on the hotel "
            "notepad if need be.",
            None,
        ),
        (
            "amor_fati",
            "We're snowed in and had to cancel all our plans for the weekend.",
            "Snow doesn't read your calendar. But there's an invitation hidden in it: a whole "
            "weekend with nowhere to be. Make soup, build something ridiculous in the garden, "
            "finish the jigsaw, sleep late. The Stoics called it loving your fate—not "
            "grudgingly putting up with what happens, but making it welcome. The cancelled "
            "plans can be rescheduled. A quiet snowed-in weekend can't be booked.",
            None,
        ),
        (
            "reason_over_passion",
            "The kid behind me on the plane has been kicking my seat for two hours.",
            "Two hours of rhythmic kicking would fray anyone's nerves. Take a breath before you "
            "turn round, so that you speak rather than snap. A friendly word to the parent "
            "usually works: \"Would you mind helping him with his feet? It's getting to my "
            "back.\" Most parents are mortified and grateful for a polite heads-up. If it "
            "carries on, ask the crew. Anger would make the flight longer for everyone, "
            "including you.",
            None,
        ),
        (
            "premeditatio_malorum",
            "I'm flying next week and I'm terrified of turbulence.",
            "Fear of turbulence is common and, happily, it responds well to preparation. Read a "
            "little about how planes handle rough air; they're built for far more than you'll ever "
            "feel. Picture the bumpy moment in advance: seatbelt on, feet flat, slow breaths, "
            "counting through the shake. Marcus Aurelius believed future things need not disturb "
            "us, because when they come we will face them with the same power of reason we bring to "
            "today. The calm reasoning you're building now will board the plane with you.",
            None,
        ),
        (
            "memento_mori",
            "My holiday ends tomorrow and I'm already dreading going back to work.",
            "The dread is stealing the last day of your holiday. Tomorrow isn't here yet, and today "
            "still is. Marcus Aurelius pointed out that the present is the only thing a person can "
            "be deprived of, and right now your present is the last day of this trip. Spend it "
            "fully: the last swim, the last long meal, a walk without checking your phone. On the "
            "journey home, choose one habit from this week to bring back with you, so the holiday "
            "carries on in a small way.",
            None,
        ),
        (
            "view_from_above",
            "Every tourist site I visit is so crowded I can barely see anything.",
            "It's frustrating to travel so far and see mostly the back of someone's head. Marcus "
            "Aurelius made a habit of looking down in his mind, from far above, on the countless "
            "crowds of humanity. From that height you are simply one more small figure in the "
            "crowd, wanting the same view as everyone else. Oddly, that softens the irritation. "
            "Then get practical: go at opening time, seek out the lesser-known sites, sit in a side "
            "street and watch the city go by.",
            None,
        ),
        (
            "amor_fati",
            "Clouds covered the sky during the eclipse I travelled hundreds of miles to see.",
            "To travel that far and get a grey sky is a special kind of disappointment. Marcus "
            "Aurelius wrote something that sounds strange at first, telling the universe that "
            "whatever suited it suited him too. He meant learning to accept what the world brings "
            "instead of arguing with it. You still stood there as the light went strange and the "
            "birds went quiet. Who did you meet on the trip? What did you see on the way? There "
            "will be other eclipses.",
            None,
        ),
        (
            "dichotomy_of_control",
            "My wallet was stolen on my first day abroad.",
            "That's a miserable way to begin a trip. Cancel the cards, report it to the police for "
            "your insurance, and contact your bank or embassy about emergency help. Once those are "
            "done, Epictetus offers a curious reframe. He advised never saying that you have lost "
            "something, only that you have given it back. The money and cards were only ever on "
            "loan from fortune. You've handled what's yours to handle; the thief has to live with "
            "his own choices. Now, can the rest of the trip still be good?",
            None,
        ),
    ],
    "social_media": [
        (
            "virtue_only_good",
            "I posted something I was proud of and it got barely any likes.",
            "Marcus Aurelius noticed this strange habit long before the like button. He wondered "
            "why each of us loves ourselves more than anyone else, yet values other people's "
            "opinion of us above our own. Were you proud of it before you posted? Then the pride "
            "was well placed, and the numbers don't undo it. Likes measure what an algorithm chose "
            "to show and what people had time to tap at nine in the evening. Keep making things "
            "you'd stand behind, and treat the count as a weather report, not a grade.",
            None,
        ),
        (
            "view_from_above",
            "Someone I barely know left a nasty comment on my photo.",
            "From far enough up, a stranger's comment is one of millions typed today by people in "
            "bad moods. The words on your screen have no power until you agree with them. Delete or "
            "hide the comment, block the account if you need to, and close the app; you have better "
            "company to keep tonight than that username. And if it still stings tomorrow, remember "
            "where Epictetus located the sting. He taught that an insult comes not from the person "
            "who abuses us but from our own judgement that it is insulting.",
            None,
        ),
        (
            "dichotomy_of_control",
            "Everyone on Instagram seems to have a perfect life and mine feels boring.",
            "You're comparing your whole ordinary life with other people's chosen highlights. It's "
            "an unfair contest, and you're the one who set it up. Marcus Aurelius noted how much "
            "trouble a person avoids by not watching what the neighbours say, do or think. Try a "
            "week where you unfollow the accounts that leave you feeling worse, and spend that time "
            "on something real you've been putting off. A boring life, looked at closely, usually "
            "holds more than you've been noticing.",
            None,
        ),
        (
            "reason_over_passion",
            "I got into a huge argument in the comments section and I can't let it go.",
            "Comment-section fights are built to feel urgent and never to end. Ask yourself "
            "three questions. Is anyone's mind going to change? Is this how you want to spend "
            "tonight? Would you say this to their face, over coffee? If the answers are no, no "
            "and probably not, you have permission to leave. Type nothing further, mute the "
            "notifications, and go and do something you'll actually remember tomorrow.",
            None,
        ),
        (
            "memento_mori",
            "I realised I spent four hours on TikTok today.",
            "Four hours is a fair chunk of a day, and you noticed, which is a start. Seneca begins "
            "his letters by reminding Lucilius that nothing belongs to us except our time, an idea "
            "worth pinning above your screen. Not money, not status, not possessions—time is the "
            "real currency. Set an app limit for tomorrow and decide in advance what you'll do "
            "instead: read, walk, phone a friend. You don't have to quit. Just make the hours you "
            "give it a choice.",
            None,
        ),
        (
            "premeditatio_malorum",
            "I'm scared something I posted years ago will resurface and embarrass me.",
            "Then look at it squarely now, before anyone else does. Scroll back through your "
            "old posts and delete anything you wouldn't stand behind today. If something did "
            "surface, what would you say? Probably the truth: \"I was younger, I was wrong, "
            "I've changed.\" Rehearse that once. People forgive growth far more readily than "
            "defensiveness, and most old posts are never dug up at all.",
            None,
        ),
        (
            "preferred_indifferents",
            "My follower count keeps dropping and it's making me anxious.",
            "Followers are useful if you're building an audience and pleasant when they grow, "
            "but they aren't a measure of you; a Stoic would file them under preferred "
            "indifferents. An algorithm adjusts somewhere and the number falls, whatever the "
            "quality of your work. If the account matters for your job, look at what your loyal "
            "readers respond to and do more of that. If it doesn't, ask yourself why the number "
            "has so much power over your mood.",
            None,
        ),
        (
            "amor_fati",
            "An old friend unfollowed me and I don't know why.",
            "It's disorienting when someone quietly steps away. You may never know the reason; "
            "it could be anything from a tidy-up of their feed to a misunderstanding. The Stoic "
            "practice is to meet this as it is, without writing a painful story around it. If "
            "the friendship matters, send a warm message about something other than the "
            "unfollow. If not, let it be one of life's small, natural drifts.",
            None,
        ),
        (
            "virtue_only_good",
            "People online are calling me a hypocrite for changing my opinion.",
            "Changing your mind when you learn more isn't hypocrisy; it's honesty. Marcus Aurelius "
            "considered it something to be proud of. He welcomed anyone who could show him he was "
            "wrong, promising to change gladly, because he sought the truth and the truth never "
            "injured anyone. You can explain once, briefly, what changed your thinking. After that, "
            "let the accusations be what they are. Integrity is measured by whether you follow the "
            "truth, not by whether you stay consistent for the sake of appearances.",
            None,
        ),
        (
            "dichotomy_of_control",
            "My ex keeps posting photos with their new partner and it hurts every time.",
            "Those photos keep arriving because the app is built to show them to you. What your "
            "ex posts isn't up to you, but whether it reaches you is. Mute or unfollow—no "
            "announcement needed, and it isn't petty, it's care. Then give your attention to "
            "people and plans in your own life. The sting will fade faster once you stop "
            "pressing on the bruise every morning.",
            None,
        ),
        (
            "reason_over_passion",
            "I feel a rush of jealousy whenever a friend announces good news online.",
            "That rush is what the Stoics called a first movement—a reflex, not a verdict on who "
            "you are. What matters is the next thought. Marcus Aurelius believed that our habitual "
            "thoughts shape the character of the mind, dyeing it over time. If you practise turning "
            "envy into congratulation, even when it feels forced at first, your mind slowly takes "
            "on that colour. Send your friend a genuine message today. Then ask what their news "
            "makes you want for yourself.",
            None,
        ),
        (
            "view_from_above",
            "A video of me tripping at a party is going around our group chat.",
            "Picture the group chat from a distance: a dozen people glancing at a ten-second "
            "clip between emails, laughing, and scrolling on. In a week it'll be buried under "
            "memes and holiday photos. The quickest way to end it is to laugh along, maybe "
            "adding that the landing deserved a six out of ten. If it feels cruel rather than "
            "playful, say so plainly to whoever shared it. Either way, it's smaller than it "
            "feels tonight.",
            None,
        ),
        (
            "living_according_to_nature",
            "I check social media the second I wake up and my mornings feel frantic.",
            "Your mind is built for a certain pace: a few faces, a few stories, some daylight. "
            "The feed hands it hundreds of strangers' emotions before breakfast, so of course "
            "it feels frantic. Try leaving the phone in another room overnight and using an "
            "old-fashioned alarm clock. Give the first fifteen minutes of the day to water, "
            "light and your own thoughts. The news will still be there when you're ready for it.",
            None,
        ),
        (
            "memento_mori",
            "I'm obsessed with getting my posts to go viral.",
            "Virality is a strange thing to chase: attention from strangers, gone within days. "
            "Epictetus gave his students a sobering exercise. He told them to keep death, and "
            "everything else that seems terrible, before their eyes every day, and promised that "
            "they would then never think an abject thought or crave anything too eagerly. It sounds "
            "heavy, but the point is clarity. If your time is limited, what would you want to make "
            "even if only twenty people saw it? Make that instead. Often it's also the work that "
            "finds its audience.",
            None,
        ),
    ],
    "study": [
        (
            "reason_over_passion",
            "I have an exam tomorrow and I'm panicking because I haven't studied enough.",
            "Panic feels like action, but it eats the hours you have left. Marcus Aurelius gives "
            "good advice for this evening, since he told himself not to get upset by thinking about "
            "his whole life at once. You can't study everything; you can study the next thing. Pick "
            "the three topics most likely to come up, review them in focused blocks, and get to bed "
            "at a sensible hour. A rested brain recalls far more than a frightened, exhausted one.",
            None,
        ),
        (
            "living_according_to_nature",
            "I'm so far behind my classmates that I'll never catch up.",
            "Learning isn't a race, even when it's graded like one. Epictetus once explained to a "
            "man who wanted results at once that nothing great is produced suddenly, any more than "
            "a fig is, and went on about blossom and ripening. Compare yourself with where you were "
            "last month, not with the person at the next desk. Find the one gap that's holding the "
            "others back, and spend this week on that alone. Growth that feels slow is still "
            "growth.",
            None,
        ),
        (
            "dichotomy_of_control",
            "My professor gave me a bad grade that I think is unfair.",
            "An unfair grade stings, especially after real effort. Start with what's yours to do: "
            "reread the marking criteria, note exactly where you think the assessment went wrong, "
            "and request a meeting or a formal review. Argue with evidence, not indignation. "
            "Whatever the outcome, the understanding you gained writing the essay stays with you. "
            "Epictetus adds a helpful nudge here, since he held that people are upset less by "
            "events than by their judgements about them. The grade is a fact; the meaning you give "
            "it is up to you.",
            None,
        ),
        (
            "premeditatio_malorum",
            "I have to give a presentation in class and I'm terrified of freezing up.",
            "Rehearse the disaster on purpose. Stand up in your room, start your talk, and "
            "deliberately freeze. What do you do? Glance at your notes, take a breath, say, "
            "\"Let me come back to that.\" Practise the recovery as much as the speech. Once "
            "you've lived through the freeze in rehearsal, it loses its power over you. And the "
            "audience wants you to do well; mostly they're relieved it isn't them.",
            None,
        ),
        (
            "memento_mori",
            "I keep procrastinating on my dissertation and the deadline is getting closer.",
            "Seneca's first letter warns that life races on while we put things off, which could be "
            "a supervisor's note in your margin. Procrastination usually isn't laziness; it's the "
            "dread of starting something big. So make it small. Open the document and write for "
            "twenty-five minutes, badly if necessary, then stop. Tomorrow, do it again. Finished "
            "chapters are built from unglamorous sessions like that.",
            None,
        ),
        (
            "virtue_only_good",
            "My friends are cheating on the online test and I'll look stupid if I don't.",
            "This is exactly where character is made. A grade earned honestly is worth more to you "
            "than a better one you'd have to hide. Let them think you naive. You'll know what you "
            "actually learned, and you won't spend the next few months nervous about being found "
            "out. That's a trade worth making. Epictetus fits uncomfortably well here, because he "
            "taught that anyone who wants to improve must be content to look foolish and dull about "
            "outward things.",
            None,
        ),
        (
            "preferred_indifferents",
            "I didn't get into my first-choice university.",
            "That's a real disappointment, and you're allowed to feel it fully for a while. But "
            "the name on a degree certificate is something to prefer, not something to build "
            "your life on. What you'll become depends far more on how you use the next few "
            "years: the friends, the curiosity, the habits. Plenty of people thrive at their "
            "second choice. What will you make of yours?",
            None,
        ),
        (
            "amor_fati",
            "My study group fell apart and now I have to prepare for exams alone.",
            "Losing the group is frustrating, especially if you relied on the explanations and "
            "the company. But studying alone has advantages worth embracing: your pace, your "
            "gaps, your hours. Try teaching the material aloud to an empty room; that's how "
            "groups help anyway. You might also find one other person to meet weekly. The "
            "Stoics would call this loving what happens: working with the situation you've "
            "actually got.",
            None,
        ),
        (
            "view_from_above",
            "I failed my driving test for the second time.",
            "Step back and look from a height: millions of people have failed their driving "
            "test, some many more times than you, and drive perfectly well today. This was a "
            "few minutes on one afternoon of a long life. Read the examiner's notes, book extra "
            "lessons on those points, and rebook when you're ready. Someday this will be a "
            "funny story you tell a nervous teenager.",
            None,
        ),
        (
            "reason_over_passion",
            "I got a bad mark and my parents are going to be furious.",
            "Fear of their reaction can feel worse than the mark itself. Think it through "
            "calmly: what will they actually say, and what would help them hear it? Tell them "
            "yourself, early, with a plan: what went wrong and what you'll change. Parents are "
            "usually angrier about surprises than about setbacks. Their feelings aren't yours "
            "to control, but the honesty and the plan are.",
            None,
        ),
        (
            "living_according_to_nature",
            "I pull all-nighters before every deadline and I feel awful.",
            "Your brain consolidates what you learn while you sleep, so an all-nighter is like "
            "filling a bath with the plug out. Living according to nature, for a student, means "
            "working with your body rather than against it. Try a simple experiment for the "
            "next deadline: plan backwards, give each day a small chunk, and protect seven "
            "hours of sleep. See whether the work comes out better. It usually does.",
            None,
        ),
        (
            "dichotomy_of_control",
            "My group project partner isn't doing any work and it's dragging my grade down.",
            "Your partner's effort isn't yours to command, but the situation can be made "
            "visible. Split the tasks in writing with deadlines, keep a shared record of who "
            "did what, and talk to them directly first. If nothing changes, tell the tutor "
            "calmly and factually. Do your own part well, without martyrdom and without "
            "covering for them. Your grade may still take a knock; your integrity and effort "
            "won't.",
            None,
        ),
        (
            "memento_mori",
            "I'm studying a subject I hate because my parents chose it for me.",
            "It's a heavy thing to spend your best learning years on someone else's plan. The "
            "Stoics kept death in view not to be gloomy but to get honest: you have one life, "
            "and it's passing now. That doesn't mean storming out tomorrow. It means an honest "
            "conversation with your parents about what you love and why, ideally with a "
            "concrete alternative. They may surprise you. Even if not, you'll have spoken truly.",
            None,
        ),
        (
            "amor_fati",
            "My scholarship application was rejected.",
            "Marcus Aurelius held that nature never gives a person anything they are not built to "
            "bear. He meant that we can bear more than a setback first suggests, and a rejection "
            "letter is exactly that kind of setback. Let it sting today. Tomorrow, ask politely for "
            "feedback, look for other funding, and apply again next round with a stronger "
            "application. Many of the people who eventually win were rejected first.",
            None,
        ),
    ],
    "ageing_loss": [
        (
            "memento_mori",
            "My dog died last week and the house feels so empty.",
            "I'm sorry. A dog fills a house in a way that's hard to explain to people who've never "
            "had one. Epictetus offered a hard but tender thought. He suggested saying of what we "
            "lose not that it is lost but that it has been returned. You had those years together, "
            "and they were a gift, not a debt. Let yourself grieve. Perhaps gather a few photos, or "
            "walk the old route and remember. The emptiness is a measure of how much love was "
            "there.",
            None,
        ),
        (
            "living_according_to_nature",
            "I'm turning fifty and I feel like my best years are behind me.",
            "Seneca wrote to a friend about getting older, and his tone might surprise you. He "
            "thought old age deserves to be welcomed and even loved, since it is full of pleasure "
            "for anyone who knows how to use it. He compared it to fruit, which is most welcome "
            "when it's almost over. Fifty is not the end of anything; it brings experience, "
            "judgment, and fewer things to prove. What have you been waiting to try until you had "
            "the time or the confidence? You may have more of both now than ever.",
            None,
        ),
        (
            "reason_over_passion",
            "My grandmother passed away and I can't stop crying.",
            "Crying is not a failure of philosophy. Even Seneca, who wrote so much about calm, "
            "allowed tears in grief and asked only that we not let them turn into wailing. Tears "
            "are what love does when someone is gone, so let them come. Later, when the first wave "
            "has eased, you might write down the things she used to say, the food she made, the way "
            "she laughed. The Stoics hoped that our memories of the dead could become a kind of "
            "warmth.",
            None,
        ),
        (
            "living_according_to_nature",
            "My hair is going grey and I feel old.",
            "Grey hair is the body doing exactly what bodies do: living, and showing it. The "
            "Stoics thought peace comes from agreeing with nature rather than quarrelling with "
            "it. You can dye it if you like; that's a harmless preference. But maybe first try "
            "seeing it as a record of the years you've had: the work, the worry, the laughter. "
            "Plenty of people never get the chance to go grey.",
            None,
        ),
        (
            "memento_mori",
            "A friend from school died suddenly and I keep thinking it could have been me.",
            "That shock is one of the oldest human experiences, and the Stoics faced it rather than "
            "turning away. Let the loss sharpen your sense of what matters. Tell the people you "
            "love that you love them, reach out to your friend's family, and let yourself grieve: "
            "it honours your friend, and it reminds you that you're still here, with choices to "
            "make. Marcus Aurelius kept a note to himself for days like these, warning himself not "
            "to act as if he had ten thousand years to live, and urging himself to be good while "
            "life and the power to do it were still his.",
            None,
        ),
        (
            "amor_fati",
            "I've had to move into a smaller flat after retiring and I miss my old house.",
            "Leaving a home of many years is a real goodbye, and memories don't fit neatly into "
            "boxes. The Stoic approach is to welcome the new situation as the one life has "
            "actually handed you. A smaller flat means less to clean and less to worry about, "
            "perhaps more time and money for the people and things you love. What would make "
            "this place feel like yours? Start with one corner, one favourite chair, one photo.",
            None,
        ),
        (
            "view_from_above",
            "I keep thinking about mistakes I made decades ago.",
            "From this distance you can see those decades whole: a long life, much of it lived "
            "well, with mistakes along the way, like every human life there has ever been. Old "
            "errors loom large at night. Ask whether there's anything left to repair—an "
            "apology, a letter. If so, do it. If not, let the person you were back then be "
            "forgiven by the person you are now, who knows better.",
            None,
        ),
        (
            "premeditatio_malorum",
            "My dad is getting frail and I'm terrified of the day I'll lose him.",
            "That fear is love looking ahead. The Stoics would gently encourage you to face it "
            "rather than push it away, because imagining the loss can make the present sharper. "
            "What do you want to ask him while you can? Which of his stories should be "
            "recorded? Which practical matters, like care wishes and paperwork, should be "
            "talked through now? Do one of them this month. Then simply spend time with him, "
            "unhurried.",
            None,
        ),
        (
            "preferred_indifferents",
            "I can't do the things I used to, like hiking long distances.",
            "Epictetus distinguished between the body and the will, teaching that disease may "
            "hinder the first without touching the second, unless we let it. That distinction fits "
            "your situation well. Your legs may be slower, but your love of the outdoors, your "
            "curiosity and your good company are all intact. Losing abilities you loved is still a "
            "genuine grief, so give it its due. Then try shorter walks with good views, a walking "
            "group that goes gently, a bench at the top of a smaller hill. Health is a preferred "
            "thing, not the whole of a good life. Where could you still go this month?",
            None,
        ),
        (
            "living_according_to_nature",
            "It's been a year since my husband died and people expect me to be over it.",
            "Grief doesn't keep a calendar, whatever other people expect, and you don't owe anyone "
            "being \"over it.\" Seneca hoped for something gentler than forgetting; he wanted the "
            "memory of those we have lost to become a pleasant one. Perhaps that's the direction to "
            "move in, at your own pace: from the raw pain of absence toward memories that can "
            "comfort. Tell the people around you, honestly, that you still miss him, and which "
            "kinds of support actually help.",
            None,
        ),
        (
            "memento_mori",
            "I'm afraid of dying.",
            "Fear of death is as old as humanity, and you're not wrong to feel it. Epictetus didn't "
            "deny death; he changed the question, asking not whether he must die, since he must, "
            "but whether he must die lamenting. Since death comes to all of us, what matters is how "
            "we live until then—with courage, with kindness, without wasting the days in dread. It "
            "may help to talk about this with someone you trust, and to spend today doing something "
            "that makes you feel fully alive.",
            None,
        ),
        (
            "amor_fati",
            "My eyesight is getting worse and I need glasses for reading now.",
            "Welcome to the club of people who read menus at arm's length. Changing eyes are "
            "part of the ordinary course of life, and the Stoics would say there's freedom in "
            "not resisting it. Get a good pair of glasses, maybe two so there's always one "
            "nearby, and choose frames you actually like. Then enjoy the fact that modern "
            "lenses let you keep reading for decades. For most of history, people simply "
            "couldn't.",
            None,
        ),
        (
            "virtue_only_good",
            "I feel like I haven't achieved anything meaningful in my life.",
            "Measured against headlines and other people's highlight reels, most lives look small. "
            "Marcus Aurelius pointed somewhere else entirely, telling himself to look within, where "
            "a spring of good keeps welling up as long as you keep digging. Meaning is often hidden "
            "in ordinary things: the people you've helped, the kindness you've shown, the hard days "
            "you got through. Write down ten of those tonight. Then ask what small good thing you "
            "could add to the list this week.",
            None,
        ),
        (
            "premeditatio_malorum",
            "I'm about to retire and I'm scared of having no purpose.",
            "It's wise to think about this before the day arrives. Imagine your first Monday "
            "without work. What will you do at ten o'clock? At two? Whom will you see? Picture "
            "the lonely version honestly, then design against it: a volunteering commitment, a "
            "class, regular lunches with friends, a project you've always wanted to start. "
            "Purpose rarely turns up on its own; it's something you build on purpose.",
            None,
        ),
        (
            "virtue_only_good",
            "My mother has dementia and doesn't recognise me anymore.",
            "That's one of the hardest losses there is: grieving someone who is still here. She "
            "may not know your name, but your patience and gentleness still reach her in the "
            "moment—the tone of your voice, a held hand, a familiar song. Those acts are good "
            "in themselves, whether or not she remembers them. Look after yourself too; carers "
            "need support. Is there someone who can share the load?",
            None,
        ),
        (
            "view_from_above",
            "My children are growing up so fast and I hate how quickly time is passing.",
            "Parenthood compresses time like nothing else. Seen across a whole lifetime, their "
            "childhood is a bright, brief stretch, and you're living in the middle of it right "
            "now. You can't slow it down, but you can be present for it. Put your phone away at "
            "dinner. Say yes to the bedtime story tonight. The years will pass either way; the "
            "question is whether you were there while they did.",
            None,
        ),
    ],
    "home": [
        (
            "reason_over_passion",
            "My neighbour plays loud music until midnight every weekend.",
            "Sleeplessness makes everything feel more personal than it is. Before you bang on "
            "the wall, plan the calmest, most effective version of the conversation. Knock on a "
            "weekday afternoon, introduce yourself, and raise the music as a problem you'd like "
            "to solve together—maybe eleven o'clock instead of midnight. Most neighbours "
            "respond better to friendliness than to fury. If that fails, councils and mediators "
            "exist. Earplugs in the meantime.",
            None,
        ),
        (
            "dichotomy_of_control",
            "My neighbour and I are in a feud over where the fence should go.",
            "Boundary disputes have ruined more Sundays than almost anything else. Before the next "
            "round, consider Epictetus's image of the two handles, one that lets you carry a thing "
            "and one that makes it impossible to bear. This feud can be carried as a war over "
            "inches, or as a problem shared with someone you'll live beside for years. Suggest "
            "getting the deeds out together, or splitting the cost of a surveyor. Whether they "
            "cooperate is up to them; being the reasonable one is up to you.",
            None,
        ),
        (
            "premeditatio_malorum",
            "Our house might flood if the storms this winter are as bad as last year.",
            "Worry without action is a leaky roof in the mind, so turn this one into "
            "preparation. Check your insurance, move valuables upstairs, sign up for flood "
            "alerts, keep sandbags and a grab bag ready. Agree a family plan for where you'd "
            "go. Once you've done what's in your power, the storm is simply weather, and you "
            "can sleep a little easier having met it in advance.",
            None,
        ),
        (
            "amor_fati",
            "Our renovation is three months behind schedule and we're living in dust.",
            "Three months of dust and delay would wear anyone thin. One Stoic trick is to stop "
            "treating each day as a deviation from how things should have gone, and start "
            "treating it as how things are. Set up one clean room as a sanctuary. Eat out once "
            "a week. Keep a diary of the chaos; it'll be hilarious later. Meanwhile, agree firm "
            "milestones with the builder in writing.",
            None,
        ),
        (
            "view_from_above",
            "I spent all day cleaning and the house was messy again an hour later.",
            "Picture all the centuries of people who've swept a floor only to see crumbs land "
            "on it again. Housework is one of the oldest cycles there is; it never stays done "
            "because life doesn't stop. Rather than aiming for a spotless house, aim for a "
            "livable one, and give everyone in the household a ten-minute tidy each evening. "
            "You cleaned so that people could live there, and they are.",
            None,
        ),
        (
            "preferred_indifferents",
            "The delivery driver threw my parcel over the gate and the vase inside smashed.",
            "A broken vase is a small loss with a big annoyance attached. Take photos, report "
            "it to the retailer, and ask for a replacement or a refund; that's usually "
            "straightforward. Then remember that a vase is a thing to enjoy, not a thing to be "
            "disturbed by. Epictetus advised reminding yourself that what you're fond of is "
            "breakable, precisely so that when it breaks, it doesn't break you.",
            None,
        ),
        (
            "living_according_to_nature",
            "Our garden is completely overgrown and I feel guilty every time I look at it.",
            "A garden doing what gardens do isn't a moral failure. Nature keeps growing whether "
            "or not you have free weekends. Maybe let part of it go wild on purpose—the bees "
            "and birds will thank you—and choose one small patch to care for properly. Ten "
            "minutes of weeding while your coffee cools is plenty. Living in tune with nature "
            "might simply mean letting the garden be a bit more natural.",
            None,
        ),
        (
            "memento_mori",
            "I've lived here five years and still haven't unpacked properly or had anyone over.",
            "Five years is long enough for \"temporary\" to become your life. The Stoics "
            "reminded themselves that none of us has unlimited time, and that waiting for "
            "perfect conditions is a way of not living. Pick one box this weekend and deal with "
            "it. Then invite one friend round, boxes and all, for tea. People come for your "
            "company, not your shelving. A home is made by living in it now.",
            None,
        ),
        (
            "dichotomy_of_control",
            "My landlord still hasn't fixed the leak after a month of emails.",
            "A month of unanswered emails is maddening, especially with a bucket on the floor. "
            "What you can control is the paper trail and the next step. Send one clear, dated "
            "letter listing the problem and when you first reported it, and ask for a repair by "
            "a specific deadline. Check your tenant rights and contact your local housing "
            "service if nothing happens. Fury at the inbox won't fix the ceiling; a methodical "
            "record might.",
            None,
        ),
        (
            "amor_fati",
            "The power was out for a whole evening and the kids were bored out of their minds.",
            "Then you were handed a rare evening. Candles, torches, a board game, stories in "
            "the dark. Plenty of families would love an enforced unplugged night and never "
            "manage one. The Stoic idea of embracing what happens isn't about grim endurance; "
            "sometimes it simply means noticing the gift inside the nuisance. Next time, have "
            "the candles ready and suggest ghost stories before anyone starts complaining.",
            None,
        ),
        (
            "preferred_indifferents",
            "Our house is tiny compared to my friends' and I'm embarrassed to host.",
            "Seneca thought the poor person is not the one with too little but the one who craves "
            "more. He was talking about money, but the idea applies to houses too: craving a bigger "
            "place can make a perfectly good home feel poor. Hosting isn't an exhibition of floor "
            "space. People remember the food, the conversation and how welcome they felt. Invite "
            "two friends, cook the one thing you're good at, and let them sit on cushions if the "
            "chairs run out. A small, warm room beats a large, anxious one.",
            None,
        ),
        (
            "premeditatio_malorum",
            "I'm moving house next week and I'm sure it's going to be chaos.",
            "It probably will be a bit chaotic; moving always is. Accept that in advance and "
            "you'll be half as stressed when it happens. Now list the likely snags: the van is "
            "late, the keys aren't ready, a box of essentials goes missing. For each, one small "
            "fix. Pack a first-night bag with the kettle, chargers, toilet roll and bedding. "
            "Chaos you expected is just a busy day.",
            None,
        ),
        (
            "virtue_only_good",
            "My neighbour keeps parking across my driveway and I'm tempted to scratch his car.",
            "The temptation is understandable; acting on it would make you the villain of the "
            "story. Marcus Aurelius held that the finest way to get even is to avoid becoming like "
            "the wrongdoer. Knock on his door, tell him plainly that you need access, and ask him "
            "to park elsewhere. If it continues, leave a polite note, then contact the council. "
            "Staying decent is the one part of this that nobody else can take from you.",
            None,
        ),
    ],
}

# Held out from training so the fine-tuned model is judged on complaints it never saw.
_EVAL_PROMPTS = {
    "work": [
        "My coworker keeps booking meetings over my lunch break.",
        "I was turned down after the final interview for my dream job.",
    ],
    "commuting": [
        "The motorway was closed and my sat-nav sent me on a two-hour detour.",
        "I got a parking ticket outside the hospital while visiting my dad.",
    ],
    "money": [
        "I just got a tax bill I wasn't expecting and can't really afford.",
        "I spent my savings on an online course that turned out to be useless.",
    ],
    "health": ["I've had a migraine for three days and can't get anything done."],
    "relationships": ["My partner forgot to book the restaurant for our anniversary."],
    "technology": ["My phone screen cracked the day after the warranty ran out."],
    "weather_travel": ["Our camping trip got washed out by a thunderstorm on the first night."],
    "social_media": [
        "A friend posted an unflattering photo of me without asking.",
        "Nobody ever replies when I send a message to the group chat.",
    ],
    "study": ["I can't revise because my flatmates are partying every night."],
    "ageing_loss": [
        "My childhood home was sold and I never got to say goodbye to it.",
        "My grandfather keeps forgetting my name and it breaks my heart.",
    ],
    "home": ["The neighbours' dog barks every time I sit out in the garden."],
}
