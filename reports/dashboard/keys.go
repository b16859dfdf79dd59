package dashboard

import "github.com/charmbracelet/bubbles/key"

// KeyMap is the dashboard's key bindings; it also renders the help line
// (short) and the help screen (full).
type KeyMap struct {
	Next  key.Binding
	Prev  key.Binding
	Help  key.Binding
	Close key.Binding
	Stop  key.Binding
	Quit  key.Binding
	Views [4]key.Binding
}

// DefaultKeyMap returns the bindings. stopLabel describes what q does:
// "stop the run" when a run is attached, "quit" when only watching.
func DefaultKeyMap(stopLabel string) KeyMap {
	return KeyMap{
		Next:  key.NewBinding(key.WithKeys("tab", "right", "l"), key.WithHelp("tab", "next view")),
		Prev:  key.NewBinding(key.WithKeys("shift+tab", "left", "h"), key.WithHelp("shift+tab", "previous view")),
		Help:  key.NewBinding(key.WithKeys("?"), key.WithHelp("?", "help")),
		Close: key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "close help")),
		Stop:  key.NewBinding(key.WithKeys("q", "ctrl+c"), key.WithHelp("q", stopLabel)),
		Quit:  key.NewBinding(key.WithKeys("ctrl+c"), key.WithHelp("ctrl+c twice", "leave at once")),
		Views: [4]key.Binding{
			key.NewBinding(key.WithKeys("1"), key.WithHelp("1", "overview")),
			key.NewBinding(key.WithKeys("2"), key.WithHelp("2", "backends")),
			key.NewBinding(key.WithKeys("3"), key.WithHelp("3", "personas")),
			key.NewBinding(key.WithKeys("4"), key.WithHelp("4", "events")),
		},
	}
}

// ShortHelp is the help line under every view.
func (k KeyMap) ShortHelp() []key.Binding {
	return []key.Binding{k.Next, k.Prev, k.Help, k.Stop}
}

// FullHelp is the help screen, in columns.
func (k KeyMap) FullHelp() [][]key.Binding {
	return [][]key.Binding{
		{k.Next, k.Prev, k.Views[0], k.Views[1], k.Views[2], k.Views[3]},
		{k.Help, k.Close, k.Stop, k.Quit},
	}
}
