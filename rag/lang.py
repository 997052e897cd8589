"""Language identification and the few phrases the product says in the user's language."""

from __future__ import annotations

import copy
import re
from functools import lru_cache
from typing import Any

_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_KANA = re.compile(r"[\u3040-\u30ff]")
_HANGUL = re.compile(r"[\uac00-\ud7af]")
_LETTER = re.compile(r"[^\W\d_]")

DEFAULT_LANG = "en"

ABSTAIN = {
    "en": "The articles don't say: no passage in the indexed articles answers this question.",
    "es": "Los artículos no lo dicen: ningún pasaje de los artículos indexados responde a esta pregunta.",
    "de": "Die Artikel sagen dazu nichts: Keine Passage der indexierten Artikel beantwortet diese Frage.",
    "zh": "文章中没有相关内容：已收录的文章里没有能回答这个问题的段落。",
    "fr": "Les articles ne le disent pas : aucun passage des articles indexés ne répond à cette question.",
    "it": "Gli articoli non lo dicono: nessun passaggio degli articoli indicizzati risponde a questa domanda.",
    "pt": "Os artigos não dizem: nenhum trecho dos artigos indexados responde a esta pergunta.",
}

# Questions that ask for an amount; answers to them should contain a figure.
_QUANTITY = re.compile(
    r"\b(how\s+(many|much|large|big|high|far|long)|what\s+(percentage|share|price|amount)|"
    r"wie\s*(viele?|hoch|groß|gross|lange|stark)|welche[nrs]?\s+(anteil|betrag|preis)|"
    r"cu[aá]nt[oa]s?|qu[eé]\s+(porcentaje|precio|cantidad)|"
    r"combien|quel\s+(pourcentage|prix|montant)|quanto|quantos|quantas)\b"
    r"|\b(was\s+kostet|wie\s+teuer|cu[aá]nto\s+cuesta|co[uû]te)\b|多少|几|百分之|多大|多高|多快|价格",
    re.IGNORECASE,
)


def cjk_language(text: str) -> str | None:
    """Script decides CJK text reliably where n-gram models guess on short strings."""
    letters = len(_LETTER.findall(text))
    if letters == 0:
        return None
    if len(_KANA.findall(text)) / letters > 0.1:
        return "ja"
    if len(_HANGUL.findall(text)) / letters > 0.3:
        return "ko"
    if len(_HAN.findall(text)) / letters > 0.3:
        return "zh"
    return None


@lru_cache(maxsize=1)
def _full_identifier() -> Any:
    """Decompressing the model costs ~0.35 s, so it happens once per process."""
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


@lru_cache(maxsize=4)
def _identifier(candidates: tuple[str, ...] | None) -> Any:
    if not candidates:
        return _full_identifier()
    identifier = copy.deepcopy(_full_identifier())  # set_languages narrows it in place
    identifier.set_languages(list(candidates))
    return identifier


def detect(
    text: str, default: str = DEFAULT_LANG, candidates: tuple[str, ...] | None = None
) -> str:
    """ISO 639-1 code of `text`; `default` when the text is too short or unclear to tell.

    `candidates` narrows the choice, which makes short texts (questions) far more reliable.
    """
    cjk = cjk_language(text)
    if cjk:
        return cjk
    if len(_LETTER.findall(text)) < 3:
        return default
    if "¿" in text or "¡" in text:
        return "es"
    lang, prob = _identifier(candidates).classify(text)
    return str(lang) if prob >= 0.5 else default


def detect_question(question: str) -> str:
    """The language to answer in: one we have phrases for, else English."""
    return detect(question, candidates=tuple(ABSTAIN))


def abstain_message(lang: str) -> str:
    return ABSTAIN.get(lang, ABSTAIN[DEFAULT_LANG])


_NOT_MENTIONED = {
    "en": "The articles don't say: none of them mentions {names}.",
    "es": "Los artículos no lo dicen: ninguno menciona {names}.",
    "de": "Die Artikel sagen dazu nichts: Keiner erwähnt {names}.",
    "zh": "文章中没有相关内容：没有一篇文章提到{names}。",
    "fr": "Les articles ne le disent pas : aucun ne mentionne {names}.",
}


def not_mentioned_message(lang: str, names: list[str]) -> str:
    """The abstention when the question names something no article mentions (Tencent)."""
    template = _NOT_MENTIONED.get(lang, _NOT_MENTIONED[DEFAULT_LANG])
    joiner = "、" if lang == "zh" else ", "
    return template.format(names=joiner.join(names))


# What a chat front end says while it works, and when an answer failed on its side.
_WORKING = {
    "en": "Searching the articles…",
    "es": "Buscando en los artículos…",
    "de": "Ich durchsuche die Artikel…",
    "zh": "正在检索文章……",
    "fr": "Recherche dans les articles…",
}
_APOLOGY = {
    "en": "Sorry, I could not answer this: something went wrong on my side. It has been "
    "logged; please try again in a moment.",
    "es": "Lo siento, no he podido responder: algo ha fallado por mi parte. Ha quedado "
    "registrado; inténtalo de nuevo en un momento.",
    "de": "Entschuldigung, das konnte ich nicht beantworten: Bei mir ist etwas schiefgegangen. "
    "Es wurde protokolliert; bitte versuche es gleich noch einmal.",
    "zh": "抱歉，我没能回答这个问题：我这边出了错误，已记录在案，请稍后再试。",
    "fr": "Désolé, je n'ai pas pu répondre : une erreur s'est produite de mon côté. Elle a été "
    "enregistrée ; réessayez dans un instant.",
}


def working_message(lang: str) -> str:
    return _WORKING.get(lang, _WORKING[DEFAULT_LANG])


def apology_message(lang: str) -> str:
    return _APOLOGY.get(lang, _APOLOGY[DEFAULT_LANG])


# The short direct answer that leads: the value(s) with their citations, in the question's
# language; other languages get the English frame.
_ANSWER_FRAME = {
    "en": "Answer: {values}.",
    "es": "Respuesta: {values}.",
    "de": "Antwort: {values}.",
    "zh": "答：{values}。",
    "fr": "Réponse : {values}.",
}


_SOURCES_AGREE = {
    "en": "{n} sources agree on {value}.",
    "es": "{n} fuentes coinciden en {value}.",
    "de": "{n} Quellen nennen übereinstimmend {value}.",
    "zh": "{n} 个来源一致：{value}。",
    "fr": "{n} sources concordent sur {value}.",
}


def sources_agree(lang: str, n: int, value: str) -> str:
    """Said after the direct answer when `n` articles give its value alike."""
    return _SOURCES_AGREE.get(lang, _SOURCES_AGREE[DEFAULT_LANG]).format(n=n, value=value)


def frame_answer(lang: str, values: list[str]) -> str:
    joiner = "；" if lang == "zh" else "; "
    return _ANSWER_FRAME.get(lang, _ANSWER_FRAME[DEFAULT_LANG]).format(values=joiner.join(values))


# Questions about the present state of things: answer from the newest source and say its date.
_LATEST = re.compile(
    r"\b(now|latest|current(ly)?|newest|most\s+recent|today|aktuell(e[nrs]?)?|derzeit|jetzt|"
    r"neueste[nrs]?|zuletzt|ahora|actual(mente)?|[uú]ltim[oa]s?|m[aá]s\s+reciente|"
    r"maintenant|actuel(le)?|derni[eè]re?s?|r[eé]cent(e)?)\b|最新|目前|现在|当前|如今",
    re.IGNORECASE,
)


def asks_for_latest(question: str) -> bool:
    return _LATEST.search(question) is not None


def asks_for_quantity(question: str) -> bool:
    return _QUANTITY.search(question) is not None


def has_cjk(text: str) -> bool:
    return _HAN.search(text) is not None


_INTERROGATIVES = re.compile(
    r"\b(who|whom|whose|what|when|where|why|which|how|many|much|does|did|do|is|are|was|were|"
    r"wer|wen|wem|wessen|was|wann|wo|woher|wohin|warum|wieso|weshalb|welche[mnrs]?|wie|viele?|"
    r"qui[eé]n(es)?|qu[eé]|cu[aá]ndo|d[oó]nde|por\s+qu[eé]|cu[aá]l(es)?|cu[aá]nt[oa]s?|"
    r"qui|que|quoi|quand|o[uù]|pourquoi|quel(le)?s?|combien)\b"
    r"|谁|什么|何时|哪里|哪儿|为什么|哪些|哪个|哪|多少|几|吗|呢",
    re.IGNORECASE,
)


def without_interrogatives(question: str) -> str:
    """The question's content words: what must be found in the articles for it to be answerable."""
    return _INTERROGATIVES.sub(" ", question)


# The scripts each article language is written in; a language not listed is written in Latin.
_LANG_SCRIPTS = {
    "zh": {"Han"}, "ja": {"Han", "Kana"}, "ko": {"Hangul", "Han"}, "ru": {"Cyrillic"},
    "uk": {"Cyrillic"}, "bg": {"Cyrillic"}, "sr": {"Cyrillic", "Latin"}, "el": {"Greek"},
    "ar": {"Arabic"}, "fa": {"Arabic"}, "ur": {"Arabic"}, "he": {"Hebrew"}, "th": {"Thai"},
    "hi": {"Devanagari"}, "mr": {"Devanagari"}, "bn": {"Bengali"}, "ta": {"Tamil"},
}  # fmt: skip
# Unicode names' first word, where it is not the script's own name.
_NAME_SCRIPTS = {"CJK": "Han", "HIRAGANA": "Kana", "KATAKANA": "Kana", "FULLWIDTH": "Latin"}
_SCRIPT_LANGUAGES = {
    "Hangul": "Korean", "Kana": "Japanese", "Thai": "Thai", "Arabic": "Arabic",
    "Hebrew": "Hebrew", "Greek": "Greek", "Cyrillic": "Russian or another Cyrillic language",
    "Devanagari": "Hindi or another Devanagari language", "Han": "Chinese", "Latin": "English",
}  # fmt: skip


def script_of(ch: str) -> str:
    """The script a letter belongs to, from its Unicode name ('Latin', 'Han', 'Hangul', ...)."""
    import unicodedata

    word = unicodedata.name(ch, "UNKNOWN").split()[0]
    return _NAME_SCRIPTS.get(word, word.title())


def question_languages(article_langs: tuple[str, ...]) -> tuple[str, ...]:
    """The languages questions may be asked in: the articles' own, and those the product has
    phrases for (cross-lingual retrieval answers a Chinese question from English articles)."""
    return tuple(sorted({*article_langs, *ABSTAIN}))


def unreadable_script(question: str, article_langs: tuple[str, ...]) -> str | None:
    """The language a question is written in when most of its letters are in a script that
    neither the articles nor the question languages we have phrases for use (a Korean
    question over en/de/zh articles), else None. Retrieval and the answerers are measured only
    in those languages; such a question would get an answer from noise, or an abstention that
    wrongly says the articles are silent."""
    if not article_langs:
        return None
    langs = question_languages(article_langs)
    readable = set().union(*(_LANG_SCRIPTS.get(lang, {"Latin"}) for lang in langs))
    scripts = [script_of(ch) for ch in question if _LETTER.match(ch)]
    foreign = [s for s in scripts if s not in readable]
    if not scripts or len(foreign) * 2 <= len(scripts):
        return None
    main = max(set(foreign), key=foreign.count)
    return _SCRIPT_LANGUAGES.get(main, f"{main} script")
