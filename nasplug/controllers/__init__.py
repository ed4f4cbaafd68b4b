"""Controllers that ship with the core (the others are separate distributions under plugins/)."""
