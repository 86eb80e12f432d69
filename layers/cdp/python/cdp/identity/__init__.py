"""Identity resolution: link records into persons, keep profile ids stable, measure the links against a truth."""
