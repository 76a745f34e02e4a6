-- Delivery bodies (~25 KB JSON each) compress with lz4 at a fraction of pglz's CPU cost, which
-- lifts worker throughput ~25 % (BENCHMARKS.md). Servers built without lz4 keep pglz.
DO $$
BEGIN
    ALTER TABLE deliveries ALTER COLUMN body SET COMPRESSION lz4;
EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE 'lz4 not available (%); delivery bodies stay pglz-compressed', SQLERRM;
END $$;
