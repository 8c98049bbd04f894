"""The words that opt a customer out of the assistant's answers and back in, per language, with the
confirmation each gets; and how a message is compared with them (pure data and functions).

A message is a stop (start) word when the whole of it is one, ignoring case, accents, spaces and
the punctuation around it: "Stop !", "stop", "ARRÊT." are; "don't stop" is not. Tenants name their
languages (`wa-admin set-handover --languages`); a tenant's own words replace the defaults.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from handler.model import HandoverSettings


@dataclass(frozen=True, slots=True, kw_only=True)
class LanguageWords:
    stop: tuple[str, ...]
    start: tuple[str, ...]
    opted_out: str  # the confirmation of a stop word; {start} is the first start word
    opted_in: str  # the confirmation of a start word; {stop} is the first stop word


# Only words nobody writes alone for another reason ("cancel" may be about an order, "yes" about
# anything): a false stop silences a customer who wanted an answer.
DEFAULT_WORDS: dict[str, LanguageWords] = {
    "en": LanguageWords(
        stop=("STOP", "STOP ALL", "STOPALL", "UNSUBSCRIBE", "OPT OUT", "OPTOUT"),
        start=("START", "UNSTOP", "SUBSCRIBE"),
        opted_out="You will not get automatic replies any more. Write {start} to get them again.",
        opted_in="Automatic replies are back on. Write {stop} to stop them.",
    ),
    "fr": LanguageWords(
        stop=("STOP", "ARRET", "ARRETER", "DESABONNER", "DESINSCRIRE", "DESINSCRIPTION"),
        start=("START", "REPRENDRE", "REPRISE"),
        opted_out="Vous ne recevrez plus de réponses automatiques. Écrivez {start} pour les réactiver.",
        opted_in="Les réponses automatiques sont réactivées. Écrivez {stop} pour les arrêter.",
    ),
    "es": LanguageWords(
        stop=("STOP", "BAJA", "PARAR", "DARSE DE BAJA", "CANCELAR SUSCRIPCION"),
        start=("START", "ALTA", "REANUDAR"),
        opted_out="Ya no recibirás respuestas automáticas. Escribe {start} para volver a recibirlas.",
        opted_in="Las respuestas automáticas están activadas de nuevo. Escribe {stop} para detenerlas.",
    ),
    "pt": LanguageWords(
        stop=("STOP", "PARAR", "SAIR", "CANCELAR INSCRICAO"),
        start=("START", "VOLTAR", "RETOMAR"),
        opted_out="Você não receberá mais respostas automáticas. Escreva {start} para voltar a recebê-las.",
        opted_in="As respostas automáticas foram reativadas. Escreva {stop} para pará-las.",
    ),
    "de": LanguageWords(
        stop=("STOP", "STOPP", "ABMELDEN", "ABBESTELLEN"),
        start=("START", "ANMELDEN"),
        opted_out="Sie erhalten keine automatischen Antworten mehr. Schreiben Sie {start}, um sie wieder zu erhalten.",
        opted_in="Automatische Antworten sind wieder aktiv. Schreiben Sie {stop}, um sie zu beenden.",
    ),
    "it": LanguageWords(
        stop=("STOP", "BASTA", "DISISCRIVIMI", "CANCELLAMI"),
        start=("START", "RIPRENDI", "ISCRIVIMI"),
        opted_out="Non riceverai più risposte automatiche. Scrivi {start} per riceverle di nuovo.",
        opted_in="Le risposte automatiche sono di nuovo attive. Scrivi {stop} per fermarle.",
    ),
}
KNOWN_LANGUAGES = tuple(DEFAULT_WORDS)
_FALLBACK_LANGUAGE = "en"


def normalized(text: str) -> str:
    """Upper case, no accents, hyphens as spaces, single spaces, no punctuation around the words."""
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(char for char in decomposed if not unicodedata.combining(char))
    words = " ".join(plain.replace("-", " ").replace("_", " ").split()).upper()
    return words.strip(" .,;:!?¡¿'\"()[]*~…").strip()


def stop_words(settings: HandoverSettings) -> tuple[str, ...]:
    return _words(settings.stop_words, (DEFAULT_WORDS[lang].stop for lang in _languages(settings)))


def start_words(settings: HandoverSettings) -> tuple[str, ...]:
    return _words(settings.start_words, (DEFAULT_WORDS[lang].start for lang in _languages(settings)))


@dataclass(frozen=True, slots=True, kw_only=True)
class WordMatch:
    word: str  # as the customer wrote it
    language: str  # whose default confirmation applies


def match_word(
    candidates: Sequence[str | None], words: tuple[str, ...], settings: HandoverSettings, *, stop: bool
) -> WordMatch | None:
    """The first of `candidates` (the text, the button's payload) that is one of `words`."""
    wanted = {normalized(word) for word in words}
    for candidate in candidates:
        if candidate and normalized(candidate) in wanted:
            return WordMatch(word=candidate.strip(), language=_language_of(candidate, settings, stop=stop))
    return None


def opted_out_text(settings: HandoverSettings, language: str) -> str:
    if settings.opt_out_text:
        return settings.opt_out_text
    return DEFAULT_WORDS[language].opted_out.format(start=start_words(settings)[0])


def opted_in_text(settings: HandoverSettings, language: str) -> str:
    if settings.opt_in_text:
        return settings.opt_in_text
    return DEFAULT_WORDS[language].opted_in.format(stop=stop_words(settings)[0])


def _languages(settings: HandoverSettings) -> list[str]:
    known = [lang for lang in settings.languages if lang in DEFAULT_WORDS]
    return known or [_FALLBACK_LANGUAGE]


def _words(own: tuple[str, ...], defaults: Iterable[tuple[str, ...]]) -> tuple[str, ...]:
    if own:
        return own
    found: dict[str, None] = {}
    for words in defaults:
        found.update(dict.fromkeys(words))
    return tuple(found)


def _language_of(candidate: str, settings: HandoverSettings, *, stop: bool) -> str:
    """The first of the tenant's languages that has the word (STOP is in all of them), else the
    tenant's first language (its own words have no language)."""
    word = normalized(candidate)
    languages = _languages(settings)
    for lang in languages:
        defaults = DEFAULT_WORDS[lang].stop if stop else DEFAULT_WORDS[lang].start
        if word in {normalized(w) for w in defaults}:
            return lang
    return languages[0]
