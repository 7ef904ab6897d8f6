"""Everything that speaks SQL: the database handle, migrations and one store per aggregate."""
