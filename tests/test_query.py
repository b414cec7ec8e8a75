"""Reading a question as typed: names in any case, typos, shorthand, the kind of answer asked."""

from __future__ import annotations

from ftzqa.answertype import DATE, NUMBER, PERCENT, PERSON, asked, asks_figure, holds, holds_figure
from ftzqa.lexicon import Lexicon
from ftzqa.query import NAME, TOPIC, analyse
from ftzqa.query import NUMBER as NUMBER_WORD
from ftzqa.settings import BM25Settings
from ftzqa.sparse import Tokenizer

TEXTS = [
    "Kou Jie said that about 160 new market entities were born every day in the Yunnan zone.",
    "In the first half of the year, exports from Yunnan to Vietnam rose 41.8% year-on-year.",
    "The Qingdao area of Shandong runs a visa-free transit policy. Guangxi trades with ASEAN.",
]
TOKENIZE = Tokenizer(BM25Settings())
LEXICON = Lexicon.build(TEXTS)
VOCAB = {t for text in TEXTS for t in TOKENIZE(text)}


def _analyse(question: str):  # type: ignore[no-untyped-def]
    return analyse(question, LEXICON, TOKENIZE, VOCAB.__contains__)


def test_lower_case_names_are_names_because_the_documents_capitalise_them() -> None:
    q = _analyse("how many new market entities per day in yunnan")
    kinds = {w.text: w.kind for w in q.words}
    assert kinds["yunnan"] == NAME and kinds["market"] == TOPIC and kinds["entities"] == TOPIC
    assert q.asked == NUMBER and q.searched == q.question and not q.corrections


def test_typos_are_corrected_and_the_searched_question_says_so() -> None:
    q = _analyse("yunan exports to vietnam in h1 yoy")
    assert [(c.typed, c.used) for c in q.corrections] == [
        ("yunan", "yunnan"),
        ("h1", "first half"),
        ("yoy", "year-on-year"),
    ]
    assert q.searched == "yunnan exports to vietnam in first half year-on-year"
    assert all(w.known for w in q.words)


def test_a_capitalised_unknown_word_is_a_name_not_a_typo_of_a_plain_word() -> None:
    texts = ["Gold and platinum were mined in Shandong.", "Platinum prices rose."]
    lexicon = Lexicon.build(texts)
    vocab = {t for text in texts for t in TOKENIZE(text)}

    def corrections(question: str) -> list[tuple[str, str]]:
        q = analyse(question, lexicon, TOKENIZE, vocab.__contains__)
        return [(c.typed, c.used) for c in q.corrections]

    # "Plotinus" is a philosopher, not "platinum", which the documents never capitalise mid-sentence
    assert corrections("What sort of philosopher was Plotinus?") == []
    plotinus = next(w for w in analyse("What sort of philosopher was Plotinus?", lexicon, TOKENIZE,
                                       vocab.__contains__).words if w.surface == "Plotinus")
    assert plotinus.kind == NAME and not plotinus.known
    # a typo of a word the documents capitalise is still corrected, and so is any typo typed in
    # lower case or in a question mostly in capitals
    assert corrections("How much gold was mined in Shangdong?") == [("Shangdong", "shandong")]
    assert corrections("how much platnum was mined") == [("platnum", "platinum")]
    assert corrections("How Much Platnum Was Mined?") == [("Platnum", "platinum")]


def test_last_year_is_a_period_the_passage_must_state() -> None:
    q = _analyse("how much foreign capital was used last year")
    assert [p.label for p in q.periods] == ["last year"]


def test_tv_is_television_a_topic_word_not_a_name_the_documents_never_mention() -> None:
    lexicon = Lexicon.build(["The show was first broadcast on television in 1962."])
    vocab = set(TOKENIZE("The show was first broadcast on television in 1962."))
    q = analyse("On what TV channel was the show first broadcast?", lexicon, TOKENIZE, vocab.__contains__)
    assert [(c.typed, c.used) for c in q.corrections] == [("TV", "television")]
    tv = next(w for w in q.words if w.surface == "TV")
    assert tv.kind == TOPIC and tv.known and tv.text == "television"


def test_unknown_words_are_kept_and_marked_unknown() -> None:
    q = _analyse("What do land leases cost in Zhengzhou?")
    by_text = {w.text: w for w in q.words}
    assert by_text["zhengzhou"].kind == NAME and not by_text["zhengzhou"].known  # capitalised, never indexed
    assert by_text["leases"].kind == TOPIC and not by_text["leases"].known
    assert q.asked is None


def test_the_word_that_says_what_is_asked_is_not_a_topic_word() -> None:
    q = _analyse("In what year did exports from Yunnan rise?")
    assert q.asked == DATE and "year" not in {w.text for w in q.words}


def test_numbers_and_years_are_constraints() -> None:
    q = _analyse("exports in 2019 above 41.8")
    numbers = [w for w in q.words if w.kind == NUMBER_WORD]
    assert [(w.text, w.known) for w in numbers] == [("2019", False), ("41.8", True)]


def test_an_ordinal_is_a_number_the_passage_must_state() -> None:
    q = _analyse("Who led the 5th zone and the 21st batch?")
    assert not {"th", "st"} & {w.text for w in q.words}  # the ending is read with its number
    numbers = {w.surface: w for w in q.words if w.kind == NUMBER_WORD}
    assert set(numbers) == {"5th", "21st"} and numbers["5th"].also == (("fifth",),)
    assert "rd" in {w.text for w in _analyse("exports along rd 5").words}  # not after a digit: a word


def test_a_decade_or_century_is_a_number_any_of_its_years_states() -> None:
    q = _analyse("Where did he teach from the late 1970's to the 1980s, and in the 1700s?")
    numbers = {w.surface: w for w in q.words if w.kind == NUMBER_WORD}
    assert set(numbers) == {"1970's", "1980s", "1700s"}
    assert numbers["1980s"].text == "1980" and ("1985",) in numbers["1980s"].also
    assert ("1990",) not in numbers["1980s"].also and ("1980",) not in numbers["1980s"].also
    century = numbers["1700s"].also
    assert ("1750",) in century and ("1800",) not in century
    assert tuple(TOKENIZE("18th century")) in century and tuple(TOKENIZE("eighteenth century")) in century
    assert "s" not in {w.text for w in q.words}
    twenty_first = next(w for w in _analyse("films of the 2000s").words if w.kind == NUMBER_WORD).also
    assert tuple(TOKENIZE("21st century")) in twenty_first and ("2010",) in twenty_first
    # a year followed by an "s" that starts a word is no decade
    assert {w.surface for w in _analyse("exports in 1980 surged").words if w.kind == NUMBER_WORD} == {"1980"}


def test_the_first_word_capitalised_is_not_a_name_unless_the_documents_say_so() -> None:
    q = _analyse("Leases in Hainan?")
    kinds = {w.text: w.kind for w in q.words}
    assert kinds["leases"] == TOPIC and kinds["hainan"] == NAME


def test_asked_kinds() -> None:
    assert asked("How many trains ran?")[0] == NUMBER
    assert asked("what percentage of imports")[0] == PERCENT
    assert asked("When was the press conference?")[0] == DATE
    assert asked("In what year did it open?") == (DATE, frozenset({"year"}))
    assert asked("who is the director")[0] == PERSON
    assert asked("qilu trains")[0] is None
    assert asked("heilongjiang share of trade with russia") == (PERCENT, frozenset({"share"}))
    assert asked("number of reform tasks") == (NUMBER, frozenset({"number"}))


def test_when_and_who_inside_a_clause_ask_nothing() -> None:
    assert asked("What did her mother own when she was a child?")[0] is None
    assert asked("Kinship includes people who are relatives by marriage?")[0] is None
    assert asked("the trade zone was launched when")[0] == DATE
    assert asked("Qilu train, and when did it start?")[0] == DATE
    assert asked("The treaty was signed by whom?")[0] == PERSON


def test_figure_questions_need_a_passage_with_a_number() -> None:
    assert asks_figure("how many biomedical companies are in jiangsu")
    assert asks_figure("yunnan share of foreign trade") and asks_figure("What percentage of imports?")
    assert not asks_figure("How long did it take?") and not asks_figure("who is the director")
    # "number of" / "share of" asks for a figure only when it is what the question asks for
    assert asks_figure("What was the total number of new firms?") and asks_figure("number of new firms in yunnan")
    assert not asks_figure("Which province has the largest share of foreign trade?")  # asks for a province
    assert not asks_figure("what limits the number of trains each day")  # asks what limits it
    # so does "how many" / "how much": not in a clause of a question that asks something else
    assert not asks_figure("What tool shows how many people visited the zone?")  # asks for a tool
    assert asked("What tool shows how many people visited the zone?")[0] is None
    assert asks_figure("What was the population, and how many lived in the zone?")
    assert asked("what were yunnan exports and how much did they grow")[0] == NUMBER
    assert holds_figure("879 trains") and holds_figure("seventeen times") and holds_figure("up a third")
    assert holds_figure("up 5 percent") and not holds_figure("a number of major companies")


def test_a_figure_question_is_refused_by_a_passage_without_any_number() -> None:
    from ftzqa.abstain import DEFAULT_MODEL, signals
    from ftzqa.abstain import Passage as VerdictPassage
    from ftzqa.evidence import Evidence
    from ftzqa.types import Span

    text = "Jiangsu has gathered a number of first-class biomedical companies."
    lexicon = Lexicon.build([text])
    query = analyse("how many biomedical companies are in jiangsu", lexicon, TOKENIZE, set(TOKENIZE(text)).__contains__)
    words = VerdictPassage(set(TOKENIZE(text)), text)
    ev = Evidence(Span(0, len(text), text), holds_type=False)
    sig = signals(query, words, 0.9, lambda t: 1.0, ev)
    assert sig.missing_names == 1.0 and DEFAULT_MODEL.probability(sig) == 0.0
    with_figure = text.replace("a number of", "31")
    sig = signals(query, VerdictPassage(set(TOKENIZE(with_figure)), with_figure), 0.9, lambda t: 1.0, ev)
    assert sig.missing_names == 0.0 and DEFAULT_MODEL.probability(sig) > 0.0


def test_a_number_in_the_title_or_an_idiom_is_no_figure() -> None:
    """"one year on" in the title and "one-off" in the text count nothing: a "how many" question
    about such a passage is refused; a real count in its body still answers it."""
    from ftzqa.abstain import DEFAULT_MODEL, signals
    from ftzqa.abstain import Passage as VerdictPassage
    from ftzqa.evidence import Evidence
    from ftzqa.types import Span

    title = "Free trade zones, one year on"
    body = "Lingang took the lead in one-off foreign debt registration for high-tech enterprises."
    text = f"{title}\n{body}"
    lexicon = Lexicon.build([text])
    query = analyse("how many high tech firms in lingang", lexicon, TOKENIZE, set(TOKENIZE(text)).__contains__)
    ev = Evidence(Span(0, len(body), body), holds_type=False)
    with_title = VerdictPassage(set(TOKENIZE(text)), text, body)
    assert not with_title.has_figure()
    sig = signals(query, with_title, 0.9, lambda t: 1.0, ev)
    assert sig.missing_names == 1.0 and DEFAULT_MODEL.probability(sig) == 0.0
    counted = body.replace("high-tech", "31 high-tech")
    assert VerdictPassage(set(TOKENIZE(counted)), f"{title}\n{counted}", counted).has_figure()
    # without a separate body, the text given is the body (as before)
    assert VerdictPassage(set(TOKENIZE(text)), text).has_figure()
    assert holds(NUMBER, "One of them opened.") is False and holds(NUMBER, "a one-stop service") is False
    assert holds(NUMBER, "It opened one branch.") and holds(NUMBER, "one hundred firms")


def test_a_sentence_holds_the_kind_asked_for() -> None:
    assert holds(NUMBER, "It opened 879 trains.") and not holds(NUMBER, "It opened trains.")
    assert holds(NUMBER, "Exports doubled to two million.")
    assert holds(PERCENT, "up 41.8%") and not holds(PERCENT, "up 41.8 units")
    assert holds(DATE, "held on September 2") and holds(DATE, "in 2019") and not holds(DATE, "held in Beijing")
    assert holds(PERSON, "said Kou Jie, deputy director")
    # the question's own names do not answer "who is ...?"
    given = frozenset({"tang", "wenhong"})
    assert not holds(PERSON, "I believe so. Tang Wenhong said.", given)
    assert holds(PERSON, "Tang Wenhong, Director of the Department, stated", given)
    assert holds(None, "anything at all")


def test_unseen_lower_case_words_english_writes_capitalised_are_names() -> None:
    q = _analyse("yunnan exports to laos in h1")
    by_text = {w.text: w for w in q.words}
    assert by_text["laos"].kind == NAME and not by_text["laos"].known  # never indexed: no passage answers
    q = _analyse("what sort of exports rose")  # an ordinary word the index never saw stays a topic word
    assert {w.text: w.kind for w in q.words}["sort"] == TOPIC


def test_proper_noun_list_knows_names_from_ordinary_words() -> None:
    from ftzqa.propernouns import usually_capitalised

    assert all(usually_capitalised(w) for w in ("laos", "guangdong", "sheffield", "samoa"))
    assert not any(usually_capitalised(w) for w in ("sort", "firms", "exports", "june", "monday"))


def test_words_that_say_what_is_asked_are_no_constraint() -> None:
    query = analyse("kou jie job title", None, TOKENIZE, lambda t: True)
    assert [w.text for w in query.words] == ["kou", "jie"]
    assert query.searched == "kou jie job title"  # still searched


def test_stand_for_after_an_acronym_asks_what_it_spells_out() -> None:
    def words(question: str) -> list[str]:
        return [w.text.lower() for w in analyse(question, None, TOKENIZE, lambda t: True).words]

    assert words("What does UGR stand for?") == ["ugr"]
    assert words("what does ugr stands for") == ["ugr"]  # typed in lower case: any word may be one
    assert words("What acronym describes the State Security Administration?") == [
        "describes", "state", "security", "administration",
    ]
    # not after an acronym, nor "stand" on its own: a word the passage must use
    assert "stand" in words("What does Lingang stand for?")
    assert "stand" in words("Where does the UGR stand today?")


def test_a_run_of_capitalised_words_is_a_name_even_if_the_documents_write_its_words_in_lower_case() -> None:
    text = "The emperor wore yellow silk. A tiger was seen near the house, a place of wisdom."
    lexicon = Lexicon.build([text])
    vocab = set(TOKENIZE(text)).__contains__
    query = analyse("Which dynasty did Yellow Tiger rule from the House of Wisdom?", lexicon, TOKENIZE, vocab)
    names = [w.text for w in query.names]
    assert names == ["yellow", "tiger", "house", "wisdom"]
    # one capitalised word the documents write in lower case stays a topic word
    query = analyse("Which emperor wore Yellow silk?", lexicon, TOKENIZE, vocab)
    assert [w.text for w in query.names] == []
    # the first word of a question is no part of a run
    query = analyse("Yellow Tiger was seen where?", lexicon, TOKENIZE, vocab)
    assert [w.text for w in query.names] == []


def test_a_lower_case_word_near_no_english_word_is_a_name() -> None:
    """"xiongan" (a new area, written "Xiong'an") is in neither the documents nor English (lower
    case), nor a typo of an English word: a name the documents never mention. English words the
    documents do not use, and typos of them, stay topic words."""
    lexicon = Lexicon.build(TEXTS)
    assert lexicon.unheard_of("xiongan") and lexicon.unheard_of("wogabaliri")
    assert not lexicon.unheard_of("ailment") and not lexicon.unheard_of("jurors")  # English, not used here

    def kinds(question: str) -> dict[str, str]:
        return {w.text: w.kind for w in analyse(question, lexicon, TOKENIZE, VOCAB.__contains__).words}

    assert kinds("xiongan port trade growth")["xiongan"] == NAME
    assert kinds("yangshan port container throughput")["throughput"] == TOPIC  # a typo away from "throughout"
    assert kinds("date of the commerce ministry presser")["presser"] == TOPIC
    assert kinds("new bussinesses per day in yunnan")["bussinesses"] == TOPIC
    assert kinds("yunan exports")["yunnan"] == NAME  # corrected first
    assert not lexicon.unheard_of("exports") and not lexicon.unheard_of("ab")
    assert not Lexicon.build(TEXTS, dictionary=frozenset({"xiongan"})).unheard_of("xiongan")  # the model knows it


def test_posts_asked_about_without_deputy_or_vice() -> None:
    from ftzqa.query import roles

    assert roles("who is the director of the jiangsu commerce department") == ("director",)
    assert roles("who is the deputy director of the jiangsu department") == ()
    assert roles("Who was vice-president under Nixon?") == ()
    assert _analyse("who is the director of yunnan zone").roles == ("director",)
    assert roles("who heads the jiangsu commerce department") == ("*",) and roles("how many trains ran") == ()
    assert asks_figure("hebei ftz reform task implementation rate")
    assert asks_figure("qilu train trade value") and not asks_figure("which group has the highest rate of growth")


def test_a_share_is_not_a_change_in_percent() -> None:
    from ftzqa.answertype import asks_share, only_changes

    assert asks_share("yunnan share of the zones foreign trade") and asks_share("what percentage of exports")
    assert not asks_share("by what percentage did exports increase") and not asks_share("qilu yoy growth")
    assert only_changes("Exports to Vietnam increased by 41.8% year-on-year.")
    assert only_changes("879 trains, an increase of 41.5% year-on-year")
    assert not only_changes("Exports reached 57.71 billion yuan, accounting for 14% of the total.")
    assert not only_changes("No percentage here.") and not only_changes("up 3% and a share of 10%")
    assert not only_changes("Its share rose to 14.5% of the total.")  # where it got to: a share


def test_a_keyword_query_ending_in_a_measure_asks_for_a_figure() -> None:
    for q in ("port container throughput", "heihe trade yoy growth", "qilu train trade value", "tax revenue"):
        assert asks_figure(q), q
    assert not asks_figure("what is the container throughput of this port for")  # a question word: read as such


def test_the_word_after_name_of_is_part_of_the_name_in_a_lower_case_question() -> None:
    lexicon = Lexicon.build(["The Ministry of Commerce held a press conference on finance."])
    vocab = set(TOKENIZE("The Ministry of Commerce held a press conference on finance."))
    q = analyse("date of the ministry of finance press conference", lexicon, TOKENIZE, vocab.__contains__)
    kinds = {w.text: w.kind for w in q.words}
    assert kinds["ministry"] == NAME and kinds["finance"] == NAME and kinds["press"] == TOPIC
    cased = analyse("When did the Ministry of finance meet?", lexicon, TOKENIZE, vocab.__contains__)
    assert {w.text: w.kind for w in cased.words}["finance"] == TOPIC  # typed with capitals: as typed


def test_a_common_word_the_documents_capitalise_is_a_name_only_beside_another_name() -> None:
    text = (
        "Dutch is a West Germanic language. It was spoken in the West, said the Supreme Court, "
        "Towards a New Architecture was a book. The House of Commons met in the North."
    )
    lexicon = Lexicon.build([text])
    vocab = set(TOKENIZE(text))

    def kinds(question: str) -> dict[str, str]:
        return {w.text: w.kind for w in analyse(question, lexicon, TOKENIZE, vocab.__contains__).words}

    # "towards" and "court" are written in lower case far more often than capitalised: alone, in
    # a question typed in lower case, they are the plain words however the documents write them
    assert kinds("how did burke look towards nobility")["towards"] == TOPIC
    assert kinds("which court ruled on it")["court"] == TOPIC
    # beside another such word, or before "of", they name something
    assert kinds("what did the supreme court rule") == {"supreme": NAME, "court": NAME, "rule": TOPIC}
    assert kinds("when did the house of commons meet")["house"] == NAME
    # "west" is capitalised in English about as often as not: the documents decide, as before
    assert kinds("which dialect was spoken in the west")["west"] == NAME
    # typed with capitals: as typed
    cased = analyse("Which Court ruled on it in the North?", lexicon, TOKENIZE, vocab.__contains__)
    assert {w.text: w.kind for w in cased.words}["court"] == NAME
