"""Account lifecycle: what spans every domain a user touches, so it sits above them all.

Linking two accounts moves (and merges) their rows in every domain, deleting one erases them, and
the profile shows the plan and the uploaded image next to the identity; the domains below never
reach up here.
"""
