"""The seed's trigram index on organizations.name, only where pg_trgm exists.

The embedded PostgreSQL has no pg_trgm, so this must be a no-op there; name
searches fall back to plain ILIKE matching either way."""

from django.db import migrations

CREATE = """
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm') THEN
        BEGIN
            CREATE EXTENSION IF NOT EXISTS pg_trgm;
        EXCEPTION WHEN insufficient_privilege THEN
            RAISE NOTICE 'pg_trgm not installed: no privilege';
        END;
    END IF;
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm') THEN
        CREATE INDEX IF NOT EXISTS idx_organizations_name_like ON organizations USING gin (name gin_trgm_ops);
    END IF;
END
$$;
"""

DROP = "DROP INDEX IF EXISTS idx_organizations_name_like;"


class Migration(migrations.Migration):
    dependencies = [("orgs", "0003_system_roles")]
    operations = [migrations.RunSQL(CREATE, DROP)]
