"""Pronounceable behaviour names: consonant-vowel syllables, all of one length.

All names share one length, so none is a prefix of another; they are drawn without replacement,
so none collide; they are random, so none reveals its behaviour.
"""
import keyword

CONSONANTS = "bdfgklmnprstvz"
VOWELS = "aeiou"
SYLLABLES = [c + v for c in CONSONANTS for v in VOWELS]


def make_names(rng, n, syllables=3):
    """n distinct names of `syllables` CV syllables each, in draw order (rng: random.Random)."""
    space = len(SYLLABLES) ** syllables
    if n > space // 4:
        raise ValueError(f"{n} names asked but only {space} exist with {syllables} syllables; use fewer behaviours")
    names, seen = [], set()
    while len(names) < n:
        name = "".join(rng.choice(SYLLABLES) for _ in range(syllables))
        if name not in seen and not keyword.iskeyword(name):
            seen.add(name)
            names.append(name)
    return names
