"""What a question asks for (an amount of memory, a percentage, money, a count, a date, a name…)
and whether a sentence holds a value of that type.

Regex lexicons reach only the languages they were written for, so the main signal is a classifier
over the question's embedding, fitted by `rag train-scorer` on XQuAD's training questions in four
languages (each labelled by the type of its gold answer) plus a few hand-written multilingual
prototypes for types XQuAD lacks (memory, bandwidth, multipliers). The multilingual embedder puts
a Portuguese or Italian "how much memory" near them, so it reaches languages no lexicon covers.
The lexicons add evidence where they match, and tell person, organisation and place apart. The
classifier's weights live in the answer model file, so typing a question embeds nothing extra.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping, Sequence

import numpy as np

from rag.answerers.logistic import fit_logistic
from rag.checks.figures import Figure

FIGURE_TYPES = ("measure", "percent", "money", "count", "multiplier", "date")
NAME_TYPES = ("person", "organisation", "place")
TYPES = (*FIGURE_TYPES, *NAME_TYPES, "other")

# Generic questions of each type in several languages; none is taken from the eval sets.
PROTOTYPES: dict[str, tuple[str, ...]] = {
    "measure": (
        "How much memory does the device have?",
        "What is the storage capacity of the new model?",
        "How fast is the data transfer rate?",
        "How long is the bridge in kilometres?",
        "¿Cuánta memoria tiene el procesador?",
        "¿Qué ancho de banda ofrece la tarjeta?",
        "Wie viel Arbeitsspeicher hat der Rechner?",
        "Wie hoch ist die Bandbreite des Speichers?",
        "这台电脑有多少内存？",
        "这款显卡的带宽是多少？",
        "Quelle est la capacité de stockage du téléphone ?",
    ),
    "percent": (
        "By what percentage did sales rise?",
        "What share of the market does the company hold?",
        "How much did the stock gain in percent?",
        "¿Qué porcentaje del mercado controla la empresa?",
        "¿En qué porcentaje subieron las acciones?",
        "Um wie viel Prozent stieg der Umsatz?",
        "Wie hoch ist der Marktanteil des Unternehmens?",
        "公司的市场份额是百分之多少？",
        "股价上涨了百分之几？",
        "De quel pourcentage les ventes ont-elles augmenté ?",
    ),
    "money": (
        "How much money will the company invest?",
        "What was the price of the share?",
        "How much revenue did the firm report?",
        "How many dollars did the bond sale raise?",
        "¿Cuánto dinero invertirá la empresa?",
        "¿A qué precio cerró la acción?",
        "Wie viel Geld investiert der Konzern?",
        "Wie viel kostet das Produkt?",
        "公司将投资多少钱？",
        "该公司的营收是多少美元？",
        "Combien d'argent l'entreprise va-t-elle investir ?",
    ),
    "count": (
        "How many units did the customers order?",
        "How many people live in the city?",
        "How many employees does the company have?",
        "How old was the founder when he died?",
        "How much time was left in the game?",
        "How many games did the team win?",
        "Wie alt war der Gründer?",
        "¿Cuántos años tenía el presidente?",
        "他去世时多大年纪？",
        "¿Cuántas unidades pidieron los clientes?",
        "¿Cuántos empleados tiene la empresa?",
        "Wie viele Einheiten wurden bestellt?",
        "Wie viele Menschen leben in der Stadt?",
        "客户订购了多少台设备？",
        "这个城市有多少人口？",
        "Combien d'unités ont été commandées ?",
    ),
    "multiplier": (
        "How many times more powerful is the new chip?",
        "By what factor did performance improve?",
        "¿Cuántas veces más rápido es el nuevo modelo?",
        "Um wie viel Mal schneller ist der neue Prozessor?",
        "新芯片的性能是旧芯片的多少倍？",
        "Combien de fois plus puissant est le nouveau modèle ?",
    ),
    "date": (
        "When was the product released?",
        "In what year was the company founded?",
        "On which date did the meeting take place?",
        "¿Cuándo se lanzó el producto?",
        "¿En qué año se fundó la empresa?",
        "Wann wurde das Gerät vorgestellt?",
        "In welchem Jahr wurde die Firma gegründet?",
        "这款产品是什么时候发布的？",
        "公司成立于哪一年？",
        "Quand le produit a-t-il été lancé ?",
    ),
    "person": (
        "Who is the chief executive of the company?",
        "Who said that the deal was good?",
        "Who wrote the novel?",
        "¿Quién dirige la empresa?",
        "Wer ist der Vorstandschef des Konzerns?",
        "谁是这家公司的首席执行官？",
        "Qui dirige l'entreprise ?",
    ),
    "organisation": (
        "Which company made the chip?",
        "Which firm bought the startup?",
        "Which agency approved the sale?",
        "¿Qué empresa fabrica el chip?",
        "Welches Unternehmen stellt den Chip her?",
        "哪家公司生产这款芯片？",
        "Quelle entreprise fabrique la puce ?",
    ),
    "place": (
        "Where is the company based?",
        "In which country was the factory built?",
        "Which city hosted the event?",
        "¿Dónde tiene su sede la empresa?",
        "Wo befindet sich der Firmensitz?",
        "这家公司的总部在哪里？",
        "Où se trouve le siège de l'entreprise ?",
    ),
    "other": (
        "Why did the government change its policy?",
        "What did the analysts say about the outlook?",
        "How does the technology work?",
        "What are the risks for the company?",
        "¿Por qué cambió el gobierno su política?",
        "Warum hat die Regierung ihre Politik geändert?",
        "政府为什么改变了政策？",
        "Pourquoi le gouvernement a-t-il changé sa politique ?",
    ),
}

# Levies are asked for as a rate or as an amount ("a 25% fee", "a fee of $5 a chip").
_LEVY = (
    r"\b(fees?|surcharges?|tariffs?|levy|levies|tax(es)?|duty|duties|commission|"
    r"\w*gebühr\w*|\w*abgabe|\w*steuer|\w*zoll|z[öo]lle|aufschlag|"
    r"recargos?|tasas?|aranceles?|impuestos?|comisi[oó]n|taxes?|droits? de douane)\b"
    r"|费用|关税|税|抽成|提成"
)

# Extra evidence where a lexicon matches: (type, pattern) in en/es/de/fr/zh.
_LEXICON: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (kind, re.compile(pattern, re.IGNORECASE))
    for kind, pattern in (
        ("measure", r"\b(memory|storage|bandwidth|capacity|\w*speicher|\w*bandbreite|memoria|"
                    r"ancho de banda|mémoire|bande passante)\b|内存|显存|带宽|容量"),
        ("percent", r"\b(percent(age)?|per cent|share|proportion|portion|fraction|rate|"
                    r"how much of (the|its|their|a)|prozent\w*|\w*anteil|\w*quote|"
                    r"wie viel (des|der|vom)|porcentaje|cuota|proporci[oó]n|qu[eé] parte|"
                    r"pourcentage|part|taux)\b|百分|份额|比例|占比|分成|几成"),
        ("money", r"\b(price|cost|revenue|invest\w*|dollars?|yuan|euros?|worth|value|"
                  r"preis|kost\w*|umsatz|investi\w*|wert|precio|cuesta|ingresos|invertir\w*|"
                  r"prix|co[uû]t\w*)\b|价格|多少钱|营收|收入|投资|市值|美元|元"),
        ("count", r"\b(how many|wie viele|cu[aá]nt[oa]s|combien de)\b|多少(台|个|颗|块|枚|人)"),
        ("percent", _LEVY),
        ("money", _LEVY),
        ("multiplier", r"\b(times|fold|mal|veces|fois)\b|倍"),
        ("date", r"\b(when|what year|which year|wann|welchem jahr|cu[aá]ndo|qu[eé] a[nñ]o|"
                 r"quand|quelle ann[eé]e)\b|什么时候|何时|哪一?年|几月|哪天"),
        ("person", r"\b(who|whom|wer|wem|qui[eé]n(es)?|qui)\b|谁"),
        ("organisation", r"\b(which (company|firm)|welche[sr]? (firma|unternehmen|konzern)|"
                         r"qu[eé] empresa|quelle (entreprise|soci[eé]t[eé]))\b|哪家"),
        ("place", r"\b(where|wo|d[oó]nde|o[uù])\b|哪里|哪儿|在哪"),
    )
)  # fmt: skip

LEXICON_WEIGHT = 0.5
# The types a classifier learns from question embeddings; person/organisation/place are told
# apart by the lexicons within "other" (XQuAD's answers carry no entity labels to learn from).
LEARNED = (*FIGURE_TYPES, "other")
TypeModel = dict[str, list[float]]  # type -> weights over the embedding, bias last


def answer_type_of(answer: str) -> str:
    """The type of a gold answer text, for training the classifier: the kind of the figure it
    consists of, a count for number words, "other" for the rest."""
    from rag.checks.figures import extract

    figures = extract(answer, "en")
    covered = sum(f.end - f.start for f in figures)
    if figures and covered >= 0.5 * len(answer.strip()):
        return figure_type(figures[0]) or "other"
    if _NUMBER_WORD.fullmatch(answer.strip()):
        return "count"
    return "other"


def fit_type_model(vectors: np.ndarray, labels: Sequence[str]) -> TypeModel:
    """One-vs-rest logistic regressions over question embeddings (weights in raw space)."""
    out: TypeModel = {}
    for kind in LEARNED:
        y = np.array([label == kind for label in labels], dtype=float)
        if y.sum() == 0:
            continue
        mean, scale, w, b = fit_logistic(vectors.astype(np.float64), y, l2=1.0)
        raw = w / scale
        out[kind] = [*raw.round(5).tolist(), round(float(b - raw @ mean), 5)]
    return out


def prototype_examples() -> tuple[list[str], list[str]]:
    """The hand-written prototypes as labelled examples (names count as "other")."""
    questions: list[str] = []
    labels: list[str] = []
    for kind, examples in PROTOTYPES.items():
        questions += list(examples)
        labels += [kind if kind in LEARNED else "other"] * len(examples)
    return questions, labels


def lexicon_types(question: str) -> set[str]:
    return {kind for kind, pattern in _LEXICON if pattern.search(question)}


def type_probabilities(
    question: str, vector: np.ndarray | None, model: TypeModel | None
) -> dict[str, float]:
    """P(type | question): the learned classifier over the question's embedding, normalised;
    the lexicons, where they match, take half the mass, and split "other" into person,
    organisation and place."""
    probs = dict.fromkeys(TYPES, 0.0)
    if vector is not None and model:
        v = np.asarray(vector, dtype=np.float64)
        scores = {k: 1 / (1 + np.exp(-(np.dot(w[:-1], v) + w[-1]))) for k, w in model.items()}
        total = sum(scores.values()) or 1.0
        probs.update({k: float(p / total) for k, p in scores.items()})
    else:
        probs["other"] = 1.0
    found = lexicon_types(question)
    names = [t for t in NAME_TYPES if t in found]
    if names:
        share = probs["other"] / len(names)
        probs["other"] = 0.0
        probs.update(dict.fromkeys(names, share))
    figures = [t for t in found if t in FIGURE_TYPES]
    if figures:
        probs = {t: (1 - LEXICON_WEIGHT) * p for t, p in probs.items()}
        for t in figures:
            probs[t] += LEXICON_WEIGHT / len(figures)
    return probs


def figure_type(fig: Figure) -> str | None:
    """The answer type a figure can fill."""
    return {
        "measure": "measure",
        "percent": "percent",
        "money": "money",
        "multiplier": "multiplier",
        "number": "count",
        "date": "date",
        "year": "date",
    }.get(fig.kind)


# Counts written as words ("two different teams", "Six-time winner"): the figure parser reads
# digits and scaled amounts, but a count question is answered by these too.
_NUMBER_WORD = re.compile(
    r"\b(one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|dozen|hundred|"
    r"eins|zwei|drei|vier|fünf|sechs|sieben|acht|neun|zehn|elf|zwölf|hundert|"
    r"uno|una|dos|tres|cuatro|cinco|seis|siete|ocho|nueve|diez|once|doce|cien|"
    r"deux|trois|quatre|cinq|sept|huit|neuf|dix|onze|douze|cent)\b"
    r"|[一二两三四五六七八九十百千万]+(?:个|名|次|项|位|家|支|场|座|种|年|天|人|台|颗|分)",
    re.IGNORECASE,
)


def types_held(figures: Iterable[Figure], has_name: bool, text: str = "") -> set[str]:
    """Answer types a sentence could fill: one per kind of figure it holds (a count also from
    number words, a measure also from a bare number), and names if it has any."""
    figures = list(figures)
    held = {t for f in figures if (t := figure_type(f))}
    if any(f.kind == "number" for f in figures):
        held.add("measure")
    if any(f.kind == "measure" for f in figures) or _NUMBER_WORD.search(text):
        held.add("count")
    if has_name:
        held.update(NAME_TYPES)
    return held


def wants_figure(probs: Mapping[str, float]) -> float:
    """How sure we are that the question asks for a figure of some kind."""
    return sum(probs[t] for t in FIGURE_TYPES)


def best_type(probs: Mapping[str, float]) -> str:
    return max(probs, key=lambda t: probs[t])


def compatible_figures(figures: Sequence[Figure], kind: str) -> list[Figure]:
    """The figures that can answer a question of type `kind`, best fitting first (a count
    question accepts an amount with a unit too: "2 million units")."""
    exact = [f for f in figures if figure_type(f) == kind]
    looser = {"count": ("measure",)}.get(kind, ())
    return exact + [f for f in figures if f.kind in looser]


def can_fill(figures: Sequence[Figure], held: Collection[str], kind: str) -> bool:
    """Whether a sentence can answer a question of type `kind`. A measure (memory, bandwidth)
    needs a figure with a unit: a bare number that only might be one is not an answer."""
    if kind == "measure":
        return any(f.kind == "measure" for f in figures)
    return kind in held
