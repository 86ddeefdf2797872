# Optimize for large datasets
class OptimizedProcessor:
    """Optimized data processor for large datasets."""
    
    def __init__(self):
        self.backend = sitq.SQLiteBackend(
            "optimized_processing.db",
            connection_pool_size=20,
            enable_wal=True
        )
        self.queue = sitq.TaskQueue(backend=self.backend)
        self.workers = [
            sitq.Worker(self.queue, worker_id=f"worker_{i}")
            for i in range(8)  # More workers for CPU-bound tasks
        ]
    
    def process_large_dataset(self, data: List[Dict], chunk_size: int = 1000):
        """Process large dataset efficiently."""
        # Use larger chunks for better throughput
        chunks = [data[i:i + chunk_size] for i in range(0, len(data), chunk_size)]
        
        # Start all workers
        for worker in self.workers:
            worker.start()
        
        try:
            # Batch enqueue for better performance
            tasks = [
                sitq.Task(function=self.process_chunk, args=[chunk, i])
                for i, chunk in enumerate(chunks)
            ]
            task_ids = self.queue.enqueue_batch(tasks)
            
            # Collect results
            results = []
            for task_id in task_ids:
                result = self.queue.get_result(task_id, timeout=300)
                results.append(result.value)
            
            return results
        
        finally:
            for worker in self.workers:
                worker.stop()
