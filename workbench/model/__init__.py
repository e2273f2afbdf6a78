"""Model composition: views -> fusion -> head. Imports torch; load lazily."""
