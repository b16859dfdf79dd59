package loadgen

import (
	"encoding/json"
	"testing"
)

// answerSamples are chat completion answers as servers send them, and
// texts that are not (every one a seed of FuzzChatAnswer).
var answerSamples = []string{
	// the built-in mock
	`{"id":"chatcmpl-mock-139999","object":"chat.completion","created":1796294426,"model":"gpt-4o-mini","choices":[{"index":0,"message":{"role":"assistant","content":"the model answers"},"finish_reason":"stop"}],"usage":{"prompt_tokens":19,"completion_tokens":3,"total_tokens":22}}`,
	// OpenAI's shape: refusal, annotations, logprobs, token details, escapes
	`{
  "id": "chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG",
  "object": "chat.completion",
  "created": 1741570283,
  "model": "gpt-4o-2024-08-06",
  "choices": [
    {
      "index": 0,
      "message": {
        "role": "assistant",
        "content": "Line one.\nA \"quoted\" word, caf\u00e9 and \ud83d\ude00, tab\there.",
        "refusal": null,
        "annotations": []
      },
      "logprobs": null,
      "finish_reason": "stop"
    }
  ],
  "usage": {
    "prompt_tokens": 1117,
    "completion_tokens": 46,
    "total_tokens": 1163,
    "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
    "completion_tokens_details": {"reasoning_tokens": 0, "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}
  },
  "service_tier": "default",
  "system_fingerprint": "fp_fc9f1d7035"
}`,
	// Azure OpenAI's content filter results and raw UTF-8
	`{"choices":[{"content_filter_results":{"hate":{"filtered":false,"severity":"safe"}},"finish_reason":"stop","index":0,"message":{"content":"Grüße aus Köln","role":"assistant"}}],"created":1,"id":"x","model":"gpt-4o","prompt_filter_results":[{"prompt_index":0,"content_filter_results":{}}],"usage":{"completion_tokens":5,"prompt_tokens":9,"total_tokens":14}}`,
	// two choices: the first one's content
	`{"choices":[{"message":{"content":"first"}},{"message":{"content":"second"}}],"usage":{"prompt_tokens":1,"completion_tokens":2}}`,
	// nulls and empties
	`{"choices":null,"usage":null}`, `{"choices":[],"usage":{}}`, `{"choices":[{"message":null}]}`,
	`{"choices":[{"message":{"content":null,"role":null}}],"usage":{"prompt_tokens":null}}`, `{}`,
	// what encoding/json reads differently or refuses: the fallback's
	`{"Usage":{"prompt_tokens":1}}`, `{"usage":{"Prompt_Tokens":2}}`, `{"usage":{"prompt_tokens":1},"usage":{"completion_tokens":2}}`,
	`{"usage":{"prompt_tokens":1.5}}`, `{"usage":{"prompt_tokens":"3"}}`, `{"usage":{"prompt_tokens":99999999999999999999}}`,
	`{"choices":[{"message":{"content":7}}]}`, `{"choices":{}}`, `{"choices":[null]}`, `{"choices":[1]}`,
	`{"u\u0073age":{"prompt_tokens":4}}`, `{"uſage":{"prompt_tokens":4}}`, `{"usage":{"prompt_tokens":-0}}`,
	`null`, `[]`, `"x"`, `{"a":1,}`, `{"a":[1,]}`, `{"a":01}`, `{"a":1.}`, `{"a":-}`, `{"a":1e}`, `{"a":tru}`, `{"a":nullx}`,
	`{"a":"\x01"}`, `{"a":"\q"}`, `{"a":"\u12"}`, `{"a":"bad \xff utf-8"}`, `{"choices":[{"message":{"content":"lone \ud800 surrogate \xfe"}}]}`,
	`{"a":1} x`, `{"a":1}  `, ` {"a" : [ {"b" : [ ] } , true , false , null , -1.5e+3 ] } `, `{"a":{"b":{"c":{"d":[[[[]]]]}}}}`, ``,
}

// decodeAnswer is parseAnswer's decoding with encoding/json alone.
func decodeAnswer(data []byte) (usage, string, error) {
	var cr struct {
		Choices []struct {
			Message message `json:"message"`
		} `json:"choices"`
		Usage usage `json:"usage"`
	}
	if err := json.Unmarshal(data, &cr); err != nil {
		return usage{}, "", err
	}
	content := ""
	if len(cr.Choices) > 0 {
		content = cr.Choices[0].Message.Content
	}
	return cr.Usage, content, nil
}

// TestChatAnswer: answers as servers send them are read in one pass, to the
// usage and content encoding/json gives.
func TestChatAnswer(t *testing.T) {
	t.Parallel()
	for i, s := range answerSamples[:9] {
		u, content, ok := chatAnswer([]byte(s))
		wu, wcontent, err := decodeAnswer([]byte(s))
		if !ok || err != nil || u != wu || content != wcontent {
			t.Errorf("sample %d: got %+v %q ok %v, encoding/json %+v %q %v", i, u, content, ok, wu, wcontent, err)
		}
	}
}

// FuzzChatAnswer: whatever chatAnswer reads, it reads as encoding/json does.
func FuzzChatAnswer(f *testing.F) {
	for _, s := range answerSamples {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		u, content, ok := chatAnswer(data)
		if !ok {
			return // parseAnswer falls back to encoding/json
		}
		wu, wcontent, err := decodeAnswer(data)
		if err != nil || u != wu || content != wcontent {
			t.Fatalf("%q: read %+v %q, encoding/json %+v %q %v", data, u, content, wu, wcontent, err)
		}
	})
}
