"""Reviews of local git ranges (`flows review`) and review quality measured
on labelled cases (`flows eval`)."""
