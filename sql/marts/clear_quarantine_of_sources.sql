-- Delete the stage-"marts" quarantine rows of the sources one mart owns ($1: a list of source names).
DELETE FROM ops.quarantine WHERE stage = 'marts' AND list_contains(?, source)
