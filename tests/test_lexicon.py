"""The index's word list: names told by how the documents write them, and typo correction."""

from __future__ import annotations

from pathlib import Path

from ftzqa.lexicon import Lexicon

TEXTS = [
    "Exports from Yunnan grew. The Yunnan zone opened, and the zone in Yunnan grew again.",
    'Trade in Guangxi rose; the "Qilu" Eurasian train opened 879 trains.',
    "Zone officials said the zone would grow. Shandong and Yunnan lead the region.",
    "The business environment improved for every business in the zone.",
]


def test_names_are_the_words_the_documents_capitalise_mid_sentence() -> None:
    lex = Lexicon.build(TEXTS)
    assert lex.is_name("yunnan") and lex.is_name("guangxi") and lex.is_name("qilu") and lex.is_name("eurasian")
    assert not lex.is_name("zone")  # capitalised only at the start of a sentence
    assert not lex.is_name("exports") and not lex.is_name("trade")
    assert not lex.is_name("hainan")  # never seen


def test_document_frequency_counts_passages_not_occurrences() -> None:
    lex = Lexicon.build(TEXTS)
    stats = lex.stats("yunnan")
    assert stats is not None and stats.df == 2 and stats.mid == 4 and stats.capitalised == 4
    assert lex.stats("zone") is not None and lex.stats("zone").df == 3  # type: ignore[union-attr]


def test_typos_are_corrected_to_the_closest_indexed_word() -> None:
    lex = Lexicon.build(TEXTS + ["Shares of yuan deposits rose."])
    assert lex.correct("yunan") == "yunnan"  # one edit from both "yunnan" and "yuan": the shared start wins
    assert lex.correct("guangix") == "guangxi"  # a transposition is one edit
    assert lex.correct("shangdong") == "shandong"
    assert lex.correct("bussiness") == "business"
    assert lex.correct("yunnan") is None  # known words are left alone
    assert lex.correct("hainan") is None  # too far from every indexed word
    assert lex.correct("zon") is None  # too short to correct safely
    assert lex.correct("12345") is None


def test_round_trip_through_a_plain_json_file(tmp_path: Path) -> None:
    lex = Lexicon.build(TEXTS)
    lex.save(tmp_path / "lexicon.json")
    again = Lexicon.load(tmp_path / "lexicon.json")
    assert again.words == lex.words and len(again) == len(lex)
    assert [again.stats(w) for w in lex.words] == [lex.stats(w) for w in lex.words]


def test_a_huge_run_of_spaces_and_quotes_is_scanned_in_linear_time() -> None:
    text = "Yunnan" + ' "' * 200_000 + "Guangxi grew."
    lex = Lexicon.build([text])  # the look-behind for a sentence start is bounded
    assert "guangxi" in lex


def test_words_of_the_models_vocabulary_are_never_typos() -> None:
    texts = ["The same zone grew. The same report said so."]
    assert Lexicon.build(texts).correct("name") == "same"  # without a dictionary it would be "corrected"
    lex = Lexicon.build(texts, dictionary=frozenset({"name"}))
    assert lex.correct("name") is None and lex.correct("repport") == "report"


def test_the_default_models_vocabulary_is_read_from_its_folder() -> None:
    from ftzqa.embed import resolve_model
    from ftzqa.lexicon import model_words

    words = model_words(resolve_model("all-MiniLM-L6-v2"))
    assert {"name", "same", "regulation"} <= words and "qingdoa" not in words and "##ing" not in words
    assert model_words("no-such-model") == frozenset()


def test_a_blend_is_the_beginnings_of_a_phrase_s_words_run_together() -> None:
    from ftzqa.lexicon import blends

    assert blends("mofcom", "ministry of commerce")  # m·of·com
    assert blends("comintern", "communist international")
    assert blends("fedex", "federal express")
    assert not blends("mc", "ministry of commerce")  # initials alone are an acronym, not a blend
    assert not blends("ftz", "free trade zone")
    assert not blends("ministry", "ministry of commerce")  # every main word gives a letter
    assert not blends("mofcomx", "ministry of commerce")  # every letter is accounted for
    assert not blends("commerce", "commerce")  # one word is no phrase


def test_an_unseen_blend_is_spelled_out_from_the_documents_phrases() -> None:
    texts = [
        "The Ministry of Commerce said exports rose.",
        "A spokesman for the Ministry of Commerce said so again.",
        "The Ministry of Culture opened once.",  # seen once: not a phrase the documents use
    ]
    lex = Lexicon.build(texts)
    assert lex.blend("mofcom") == "ministry of commerce"
    assert lex.blend("mofcul") is None
    assert lex.blend("ministry") is None  # a word of the documents is not a blend
    assert lex.blend("mofcomcommerce") is None  # too long to try
    assert lex.blend("m0fcom") is None
    assert lex.spell_out("mofcom") is None  # not an acronym: blends are tried after typos
