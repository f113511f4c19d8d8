"""The ground floor: checks of user-given values (validate), settings declared once as knobs (knobs), reading
and writing files safely (csvio) and the package's version. Nothing here knows about models or measurements,
and nothing here imports torch."""
