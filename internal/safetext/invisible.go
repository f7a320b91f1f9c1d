package safetext

import "unicode"

const (
	zwnj = '\u200c' // zero-width non-joiner
	zwj  = '\u200d' // zero-width joiner
)

// Invisible reports whether r is one of Unicode's default-ignorable code points (the
// Default_Ignorable_Code_Point property: characters a renderer shows as nothing when it does
// not support them) or an interlinear annotation control (U+FFF9–U+FFFB, which can hide the
// text between them). A name may contain none of them; Clean drops them except for the joiners
// and variation selectors it keeps where they mean something.
func Invisible(r rune) bool {
	if r <= 0xffff {
		return r >= 0xad && invisibleBMP.has(r)
	}
	return unicode.Is(invisible, r)
}

var invisible = &unicode.RangeTable{
	R16: []unicode.Range16{
		{Lo: 0x00ad, Hi: 0x00ad, Stride: 1}, // soft hyphen
		{Lo: 0x034f, Hi: 0x034f, Stride: 1}, // combining grapheme joiner
		{Lo: 0x061c, Hi: 0x061c, Stride: 1}, // Arabic letter mark
		{Lo: 0x115f, Hi: 0x1160, Stride: 1}, // Hangul choseong and jungseong fillers
		{Lo: 0x17b4, Hi: 0x17b5, Stride: 1}, // Khmer inherent vowels
		{Lo: 0x180b, Hi: 0x180f, Stride: 1}, // Mongolian free variation selectors, vowel separator
		{Lo: 0x200b, Hi: 0x200f, Stride: 1}, // zero-width space, non-joiner, joiner; LRM, RLM
		{Lo: 0x202a, Hi: 0x202e, Stride: 1}, // bidi embeddings and overrides
		{Lo: 0x2060, Hi: 0x206f, Stride: 1}, // word joiner, invisible operators, bidi isolates, deprecated formats
		{Lo: 0x3164, Hi: 0x3164, Stride: 1}, // Hangul filler
		{Lo: 0xfe00, Hi: 0xfe0f, Stride: 1}, // variation selectors
		{Lo: 0xfeff, Hi: 0xfeff, Stride: 1}, // zero-width no-break space, byte order mark
		{Lo: 0xffa0, Hi: 0xffa0, Stride: 1}, // halfwidth Hangul filler
		{Lo: 0xfff0, Hi: 0xfffb, Stride: 1}, // unassigned, then interlinear annotation controls
	},
	R32: []unicode.Range32{
		{Lo: 0x1bca0, Hi: 0x1bca3, Stride: 1}, // shorthand format controls
		{Lo: 0x1d173, Hi: 0x1d17a, Stride: 1}, // musical symbol format controls
		{Lo: 0xe0000, Hi: 0xe0fff, Stride: 1}, // tags, variation selectors supplement, unassigned
	},
}

// Lookups in the Basic Multilingual Plane, where nearly all text is, take one bit test each
// instead of a search of each table: Clean asks about every non-ASCII character it keeps.
var (
	invisibleBMP = bmpSetOf(invisible)
	markBMP      = bmpSetOf(unicode.Mn, unicode.Me)
	specialBMP   = bmpSetOf(invisible, unicode.Mn, unicode.Me, separators) // what Clean looks at twice
)

var separators = &unicode.RangeTable{R16: []unicode.Range16{{Lo: 0x2028, Hi: 0x2029, Stride: 1}}}

// bmpSet is a set of characters of the Basic Multilingual Plane, one bit each (8 KiB).
type bmpSet [1 << 16 / 64]uint64

func bmpSetOf(tables ...*unicode.RangeTable) *bmpSet {
	var s bmpSet
	for _, t := range tables {
		for _, rg := range t.R16 {
			for r := uint32(rg.Lo); r <= uint32(rg.Hi); r += uint32(rg.Stride) {
				s[r>>6] |= 1 << (r & 63)
			}
		}
	}
	return &s
}

func (s *bmpSet) has(r rune) bool { return s[r>>6]&(1<<(r&63)) != 0 }

// isVariationSelector reports whether r chooses a form of the character before it: text or
// emoji (U+FE0E, U+FE0F), a standardized variant, or an ideographic variant (a Japanese family
// name's exact glyph).
func isVariationSelector(r rune) bool {
	return r >= 0xfe00 && r <= 0xfe0f || r >= 0xe0100 && r <= 0xe01ef
}

// isMark reports whether r is a combining mark drawn on the character before it, over, under
// or around it (categories Mn and Me). Spacing marks (Mc) take their own room and are not
// counted.
func isMark(r rune) bool {
	if r <= 0xffff {
		return markBMP.has(r)
	}
	return unicode.In(r, unicode.Mn, unicode.Me)
}

// joiningScripts are the scripts in which a zero-width joiner or non-joiner between two of
// their letters changes what is shown: cursive scripts, where it breaks or forces a
// connection, and Brahmic scripts, where it chooses a half form, a conjunct or a visible
// virama.
var joiningScripts = []*unicode.RangeTable{
	unicode.Arabic, unicode.Syriac, unicode.Nko, unicode.Mongolian, unicode.Adlam,
	unicode.Devanagari, unicode.Bengali, unicode.Gurmukhi, unicode.Gujarati, unicode.Oriya,
	unicode.Tamil, unicode.Telugu, unicode.Kannada, unicode.Malayalam, unicode.Sinhala,
	unicode.Myanmar, unicode.Khmer,
}

func joiningScript(r rune) *unicode.RangeTable {
	if r < 0x600 {
		return nil
	}
	for _, t := range joiningScripts {
		if unicode.Is(t, r) {
			return t
		}
	}
	return nil
}

// pictographic reports whether r can be part of an emoji ZWJ sequence: the emoji blocks, the
// symbols and arrows that RGI sequences use (♀ ⚕ ❤ ⬛ ↔), and the skin-tone modifiers. It is
// broader than Unicode's Extended_Pictographic on purpose: a joiner kept between two symbols
// is harmless, a joiner dropped from a family emoji breaks it into four faces.
func pictographic(r rune) bool {
	switch {
	case r >= 0x2190 && r <= 0x21ff, // arrows
		r >= 0x2300 && r <= 0x23ff,   // technical (⌚ ⏳)
		r >= 0x2600 && r <= 0x27bf,   // miscellaneous symbols, dingbats
		r >= 0x2900 && r <= 0x297f,   // supplemental arrows (⤴)
		r >= 0x2b00 && r <= 0x2bff,   // miscellaneous symbols and arrows (⬛ ⭐)
		r >= 0x1f000 && r <= 0x1faff, // emoji, with the skin-tone modifiers U+1F3FB–U+1F3FF
		r >= 0x1fc00 && r <= 0x1fffd: // reserved for future emoji
		return true
	}
	return false
}

// joinsAfter reports whether joiner j may follow the character last.
func joinsAfter(j, last rune) bool {
	return j == zwj && pictographic(last) || joiningScript(last) != nil
}

// joinsBefore reports whether joiner j, which followed last, joins it to next.
func joinsBefore(j, last, next rune) bool {
	if j == zwj && pictographic(last) && pictographic(next) {
		return true
	}
	t := joiningScript(last)
	return t != nil && unicode.Is(t, next)
}
