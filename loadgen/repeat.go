package loadgen

import (
	"math/rand/v2"
	"strings"
	"sync"
)

// Repeat makes a persona ask what it asked before, as users of a help desk
// or a search box do: a share of its user messages are earlier ones again,
// verbatim or with some words changed, so a semantic cache in front of the
// model has something to answer. A persona with repeat: sends distinct
// prompts otherwise (see distinctText), so only its
// repeats come close to an earlier prompt; personas without it send the
// same filler text every time.
type Repeat struct {
	// Share is the probability (0 to 1) that a user message is an earlier
	// one of the persona (any of its users') again; 0 sends distinct
	// prompts only.
	Share float64 `yaml:"share" json:"share"`
	// Paraphrase changes words of every repeated message: Change of its
	// words (at least one) are replaced by others.
	Paraphrase bool `yaml:"paraphrase" json:"paraphrase,omitempty"`
	// Change is the share of words a paraphrase replaces (default 0.05).
	Change float64 `yaml:"change" json:"change,omitempty"`
	// Memory is how many earlier prompts are kept to repeat, the oldest
	// forgotten first (default 1000).
	Memory int `yaml:"memory" json:"memory,omitempty"`
}

// defaults fills unset fields.
func (r *Repeat) defaults() {
	if r.Change == 0 {
		r.Change = 0.05
	}
	if r.Memory == 0 {
		r.Memory = 1000
	}
}

// validate checks r's fields.
func (r *Repeat) validate(v *validator) {
	if r.Share < 0 || r.Share > 1 {
		v.bad("repeat.share", "must be within [0, 1], got %g", r.Share)
	}
	if r.Change < 0 || r.Change > 1 {
		v.bad("repeat.change", "must be within (0, 1], got %g", r.Change)
	}
	if r.Memory < 0 {
		v.bad("repeat.memory", "must be >= 1, got %d", r.Memory)
	}
}

// repeatVocabulary are the parts of distinct prompts' words: common English
// words of one token each in the cl100k and o200k encodings (with their
// leading space).
var repeatVocabulary = strings.Fields(`
account active address answer april area august balance bank bill board book branch budget call card
case cash change check city claim client close code cost country credit customer data date day deal
delivery department design detail device discount document east email energy error event fee field
file final food form friday fund game garden goal group growth health help history holiday home hotel
hour house index issue item job key king law level library light limit line list loan local
march market material meeting member message method model monday money month morning music name network
night north number offer office order owner page paper park party payment people period phone plan
plant point policy price process product profit program project quality question rate reason record
region report request result review river road room rule safety sale school season service share
shop site size software source south space staff stage start state station status step stock store
story street student study summer supply support system table task team test text ticket time today
tool total town trade training travel unit user value version video view visit water week
west window winter word work year camera coffee weather doctor engine finance flight driver`)

// promptLog is a persona's earlier prompts.
type promptLog struct {
	mu      sync.Mutex
	prompts []string
}

// distinctText is a text of about n tokens: n/2 words each made of two
// words of repeatVocabulary run together ("creditriver", about 2 tokens),
// one plain word more when n is odd. Two-part words give some 40,000
// distinct words, so two distinct texts share few of them however long
// they are (a bag of n words of a V-word vocabulary shares about n/(V+n)
// of its weight with another: 200 plain words would make long prompts
// look alike).
func distinctText(rng *rand.Rand, n int64) string {
	n = max(n, 1)
	words := make([]string, 0, n/2+1)
	for range n / 2 {
		words = append(words, compoundWord(rng))
	}
	if n%2 == 1 {
		words = append(words, repeatVocabulary[rng.IntN(len(repeatVocabulary))])
	}
	return strings.Join(words, " ")
}

// compoundWord is two words of repeatVocabulary run together.
func compoundWord(rng *rand.Rand) string {
	return repeatVocabulary[rng.IntN(len(repeatVocabulary))] + repeatVocabulary[rng.IntN(len(repeatVocabulary))]
}

// paraphrase replaces change of text's words (at least one) with others.
func paraphrase(rng *rand.Rand, text string, change float64) string {
	words := strings.Fields(text)
	k := max(1, int(change*float64(len(words))+0.5))
	for range k {
		i := rng.IntN(len(words))
		w := words[i]
		for w == words[i] {
			w = compoundWord(rng)
		}
		words[i] = w
	}
	return strings.Join(words, " ")
}

// varied is texts.user for a persona with repeat: an earlier prompt again
// (paraphrased when asked) with probability Share, else a distinct prompt
// of n words, remembered for later repeats.
func (t *texts) varied(c *call, n int64) message {
	r := c.p.Repeat
	t.mu.Lock()
	if t.logs == nil {
		t.logs = map[*Persona]*promptLog{}
	}
	log := t.logs[c.p]
	if log == nil {
		log = &promptLog{}
		t.logs[c.p] = log
	}
	t.mu.Unlock()
	log.mu.Lock()
	var text string
	if len(log.prompts) > 0 && c.rng.Float64() < r.Share {
		text = log.prompts[c.rng.IntN(len(log.prompts))]
		log.mu.Unlock()
		if r.Paraphrase {
			text = paraphrase(c.rng, text, r.Change)
		}
	} else {
		text = distinctText(c.rng, n)
		if len(log.prompts) >= r.Memory {
			log.prompts = log.prompts[1:]
		}
		log.prompts = append(log.prompts, text)
		log.mu.Unlock()
	}
	counted := int64(-1)
	if t.gw != nil {
		counted = t.gw.Tokens(c.model, text)
	}
	return message{Role: "user", Content: text, tokens: 2 * int64(strings.Count(text, " ")+1), counted: counted}
}
